/**
 * The entry runs a stage's work and each row's work inside `Wrap.stage` / `Wrap.row`, so a trace span can be
 * active around them (OpenTelemetry keeps its active span in AsyncLocalStorage, as this test does) and be
 * marked failed from the row's result.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Display } from "../../../../ci/display/index.js";

test("a stage's and a row's work run inside the wrappers, which see how the row ended", async () => {
  const active = new AsyncLocalStorage<string>();
  const ended: string[] = [];
  const display = new Display({
    mode: "plain",
    out: { write: () => {} },
    wrap: {
      stage: (stage, fn) => active.run(`span ${stage}`, fn),
      row: async (stage, row, fn) =>
        active.run(`span ${stage} ${row}`, async () => {
          const result = await fn();
          ended.push(`${stage} ${row}: ${result.cell.status}`);
          return result;
        }),
    },
  });
  const g = display.group("test");
  g.start();
  const inStage = await g.run(async () => {
    const outer = active.getStore();
    const ok = await g.row("node22/unit", async (row) => {
      row.started();
      await new Promise((r) => setTimeout(r, 1));
      return active.getStore();
    });
    const bad = await g.row("node24/unit", async () => {
      throw new Error("step failed");
    });
    return { outer, ok: ok.value, bad: bad.cell.status };
  });
  assert.equal(inStage, { outer: "span test", ok: "span test node22/unit", bad: "failed" });
  assert.equal(ended, ["test node22/unit: passed", "test node24/unit: failed"]);
});

test.run();
