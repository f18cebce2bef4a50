import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readState, recordDeploy, stateFile } from "../../../../../ci/stages/deploy/state.js";

test("the deploy record keeps the serving image and a bounded history, written without temp leftovers", async () => {
  const root = mkdtempSync(join(tmpdir(), "deploy-state-"));
  try {
    const file = stateFile(root, "p");
    assert.is(await readState(file), undefined);
    const base = { project: "p", environment: "testing" };
    await recordDeploy(file, base, "app:1", { image: "app:1", at: "t1", result: "deployed" });
    const s = await recordDeploy(file, base, "app:1", {
      image: "app:2",
      at: "t2",
      result: "rolled-back",
    });
    assert.is(s.image, "app:1");
    assert.equal(
      (await readState(file))?.history.map((h) => h.result),
      ["deployed", "rolled-back"],
    );
    for (let i = 0; i < 30; i++)
      await recordDeploy(file, base, "app:1", { image: "x", at: `${i}`, result: "failed" });
    assert.is((await readState(file))?.history.length, 20);
    assert.equal(readdirSync(dirname(file)), ["p.json"]);
    writeFileSync(file, "{oops");
    try {
      await readState(file);
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, /p.json: unreadable deploy record/);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
