/** `rowFailure`: when a row's span is marked failed (ci/main.ts wraps every row in `engine.span` with it). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { StepFailed } from "../../../../ci/engines/errors.js";
import { rowFailure, timed } from "../../../../ci/lib/cells.js";

test("a passing row: no failure; a failing step: the row's detail", async () => {
  const ok = await timed("node22/unit", async () => "done");
  assert.is(ok.cell.status, "passed");
  assert.is(rowFailure(ok), undefined);
  const bad = await timed("node24/unit", () =>
    Promise.reject(new StepFailed("node24/unit", "test:unit", 1, "")),
  );
  assert.is(bad.cell.status, "failed");
  assert.is(rowFailure(bad), 'node24/unit: step "test:unit" failed with exit code 1');
});

test("a cancelled row is not a failed span", async () => {
  const abort = new AbortController();
  abort.abort();
  const cancelled = await timed(
    "node26/e2e",
    () => Promise.reject(new StepFailed("node26/e2e", "queued", -1, "")),
    abort.signal,
  );
  assert.is(cancelled.cell.status, "skipped");
  assert.is(rowFailure(cancelled), undefined);
});

test.run();
