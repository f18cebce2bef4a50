/** `timedSpan`: a summary row inside an engine span, and when the span is told the row failed. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Engine } from "../../../../ci/engine.js";
import { StepFailed } from "../../../../ci/engines/errors.js";
import { timedSpan } from "../../../../ci/lib/cells.js";

/** An engine whose spans record their name and the failure message the caller gave for the value. */
function recording() {
  const spans: { name: string; failure: string | undefined }[] = [];
  const engine: Pick<Engine, "span"> = {
    span: async (name, fn, failure) => {
      const value = await fn();
      spans.push({ name, failure: failure?.(value) });
      return value;
    },
  };
  return { engine, spans };
}

test("a passing row: no failure; a failing step: the row's detail", async () => {
  const { engine, spans } = recording();
  const ok = await timedSpan(engine, "node22/unit", async () => "done");
  assert.is(ok.cell.status, "passed");
  assert.is(ok.value, "done");
  const bad = await timedSpan(engine, "node24/unit", () =>
    Promise.reject(new StepFailed("node24/unit", "test:unit", 1, "")),
  );
  assert.is(bad.cell.status, "failed");
  assert.equal(spans, [
    { name: "node22/unit", failure: undefined },
    { name: "node24/unit", failure: 'node24/unit: step "test:unit" failed with exit code 1' },
  ]);
});

test("a cancelled row is not a failed span; a passing row whose value failed is", async () => {
  const { engine, spans } = recording();
  const abort = new AbortController();
  abort.abort();
  const cancelled = await timedSpan(
    engine,
    "node26/e2e",
    () => Promise.reject(new StepFailed("node26/e2e", "queued", -1, "")),
    abort.signal,
  );
  assert.is(cancelled.cell.status, "skipped");
  const checks = await timedSpan(
    engine,
    "lint",
    async () => ({ failing: ["biome"] }),
    undefined,
    (v) => (v.failing.length ? `failed: ${v.failing.join(", ")}` : undefined),
  );
  assert.is(checks.cell.status, "passed");
  assert.equal(spans, [
    { name: "node26/e2e", failure: undefined },
    { name: "lint", failure: "failed: biome" },
  ]);
});

test.run();
