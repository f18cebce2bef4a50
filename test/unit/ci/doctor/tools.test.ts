import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  binaryCheck,
  daggerCheck,
  nodeCheck,
  qemuCheck,
  sdkCliVersion,
} from "../../../../ci/doctor/tools.js";
import { contextFor, fakeBin, pathDir } from "./fakes.js";

test("the SDK's CLI version is read from the installed SDK", async () => {
  const pkg = JSON.parse(readFileSync("node_modules/@dagger.io/dagger/package.json", "utf8"));
  assert.is(await sdkCliVersion(), pkg.version);
});

test("node: the running version passes, one below engines fails with a fix", () => {
  assert.is(nodeCheck().status, "ok");
  const old = nodeCheck("18.20.4");
  assert.is(old.status, "missing");
  assert.match(old.fix ?? "", /Node >= 20/);
});

test("a required binary: missing with its Debian package, then found with its version", async () => {
  const dir = pathDir();
  const ctx = await contextFor(dir);
  const missing = await binaryCheck(ctx, "promtool", "prometheus", "alert rules", true);
  assert.is(missing.status, "missing");
  assert.equal(missing.apt, ["prometheus"]);
  assert.is(missing.fix, "apt-get install prometheus");
  const optional = await binaryCheck(ctx, "jq", "jq", "benchmark", false);
  assert.is(optional.status, "warn");
  fakeBin(dir, "promtool", 'echo "promtool, version 9.8.7+ds (branch: x)"');
  const found = await binaryCheck(ctx, "promtool", "prometheus", "alert rules", true);
  assert.is(found.status, "ok");
  assert.is(found.found, `9.8.7 at ${join(dir, "promtool")}`);
});

test("dagger CLI: absent, matching and mismatching the SDK", async () => {
  const dir = pathDir();
  const ctx = await contextFor(dir);
  const sdk = await sdkCliVersion();
  const absent = await daggerCheck(ctx, sdk);
  assert.is(absent.status, "warn");
  assert.match(absent.fix ?? "", `DAGGER_VERSION=${sdk}`);
  assert.match(absent.fix ?? "", /--engine docker/);
  fakeBin(
    dir,
    "dagger",
    `[ "$1" = version ] && echo "dagger v${sdk} (registry.dagger.io/engine:v${sdk}) linux/amd64"`,
  );
  assert.is((await daggerCheck(ctx, sdk)).status, "ok");
  fakeBin(dir, "dagger", '[ "$1" = version ] && echo "dagger v0.1.0 (x) linux/amd64"');
  const old = await daggerCheck(ctx, sdk);
  assert.is(old.status, "warn");
  assert.match(old.found, `0.1.0 at ${join(dir, "dagger")}, SDK wants ${sdk}`);
});

test("qemu arm64: not mounted, not registered, disabled, enabled, and native arm64", async () => {
  const dir = pathDir();
  const binfmt = join(dir, "binfmt_misc");
  const ctx = await contextFor(dir, { binfmtDir: binfmt });
  const notMounted = await qemuCheck(ctx);
  assert.is(notMounted.status, "missing");
  assert.is(notMounted.action, "binfmt");
  assert.match(notMounted.found, /not mounted/);
  assert.equal(notMounted.apt, ["qemu-user-static", "binfmt-support"]);
  mkdirSync(binfmt);
  writeFileSync(join(binfmt, "register"), "");
  assert.match((await qemuCheck(ctx)).found, /not registered/);
  const interp = fakeBin(dir, "qemu-aarch64-static", "exit 0");
  // The kernel's own format of /proc/sys/fs/binfmt_misc/<name>.
  const entry = (state: string, flags: string) =>
    `${state}\ninterpreter ${interp}\nflags: ${flags}\noffset 0\nmagic 7f454c46\n`;
  writeFileSync(join(binfmt, "qemu-aarch64"), entry("disabled", "OCF"));
  assert.match((await qemuCheck(ctx)).found, /disabled/);
  writeFileSync(join(binfmt, "qemu-aarch64"), entry("enabled", "OC"));
  assert.is((await qemuCheck(ctx)).status, "ok");
  rmSync(interp);
  assert.match((await qemuCheck(ctx)).found, /is gone/);
  writeFileSync(join(binfmt, "qemu-aarch64"), entry("enabled", "OCF"));
  assert.is((await qemuCheck(ctx)).status, "ok", "flag F keeps the opened interpreter");
  const arm = await contextFor(dir, { host: { ...ctx.host, arch: "arm64" } });
  assert.is((await qemuCheck(arm)).status, "ok");
});

test.run();
