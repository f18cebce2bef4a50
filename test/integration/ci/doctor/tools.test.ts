import { spawnSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { binaryCheck } from "../../../../ci/doctor/tools.js";
import { contextFor } from "../../../unit/ci/doctor/fakes.js";

/** Where the shell finds `bin` on this machine's PATH, if anywhere. */
const onPath = (bin: string) =>
  spawnSync("sh", ["-c", `command -v ${bin}`], { encoding: "utf8" }).stdout.trim() || undefined;

for (const [bin, pkg] of [
  ["promtool", "prometheus"],
  ["amtool", "prometheus-alertmanager"],
] as const) {
  test(`${bin} on this machine: the check agrees with the shell and reads the real version`, async () => {
    const ctx = await contextFor("", { env: process.env });
    const r = await binaryCheck(ctx, bin, pkg, "", true);
    const path = onPath(bin);
    if (!path) {
      assert.is(r.status, "missing");
      assert.equal(r.apt, [pkg]);
      return;
    }
    const version = spawnSync(path, ["--version"], { encoding: "utf8" });
    const first = `${version.stdout}${version.stderr}`.split("\n")[0] ?? "";
    assert.is(r.status, "ok");
    assert.is(r.found, `${/(\d+\.\d+\.\d+)/.exec(first)?.[1]} at ${path}`);
  });
}

test.run();
