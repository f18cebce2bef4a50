import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig } from "../../../../ci/config.js";
import {
  activeLts,
  binaryCheck,
  daggerCheck,
  MIN_NODE_MAJOR,
  NODE_LINES,
  nodeCheck,
  qemuCheck,
  sdkCliVersion,
} from "../../../../ci/doctor/tools.js";
import { contextFor, fakeBin, pathDir } from "./fakes.js";

test("the SDK's CLI version is read from the installed SDK", async () => {
  const pkg = JSON.parse(readFileSync("node_modules/@dagger.io/dagger/package.json", "utf8"));
  assert.is(await sdkCliVersion(), pkg.version);
});

test("node: past end of life warns with the active LTS as the fix; too old to run fails", () => {
  const day = (d: string) => new Date(`${d}T12:00:00Z`);
  // This machine's case: Node 20 after its end of life on 2026-04-30.
  const host = nodeCheck("20.20.2", day("2026-11-29"));
  assert.is(host.status, "warn");
  assert.is(host.found, "v20.20.2, end of life since 2026-04-30");
  assert.is(host.fix, "install Node 26 (the active LTS); the kit needs >= 22");
  // Before that day 20 was only below engines, and 26 not yet LTS.
  const before = nodeCheck("20.20.2", day("2026-03-01"));
  assert.equal([before.status, before.found], ["warn", "v20.20.2, below engines >= 22"]);
  assert.match(before.fix ?? "", /^install Node 24 \(the active LTS\)/);
  // A supported line is ok until its own end of life, then warns.
  assert.equal(
    [nodeCheck("22.23.5", day("2026-11-29")).status, nodeCheck("22.23.5", day("2026-11-29")).found],
    ["ok", "v22.23.5, supported until 2027-04-30"],
  );
  assert.is(nodeCheck("22.23.5", day("2027-04-30")).status, "warn");
  assert.is(nodeCheck("26.12.1", day("2027-04-30")).status, "ok");
  // Odd lines die young; a line newer than the table is taken as current.
  assert.is(nodeCheck("25.1.0", day("2026-11-29")).found, "v25.1.0, end of life since 2026-06-01");
  assert.is(nodeCheck("28.0.0", day("2028-06-01")).status, "ok");
  const old = nodeCheck("18.20.4", day("2026-11-29"));
  assert.is(old.status, "missing");
  assert.match(old.fix ?? "", /Node 26 .*>= 22/);
  // The running Node always runs the tooling (a warning at worst).
  assert.is.not(nodeCheck().status, "missing");
});

test("node: the table knows every matrix line; engines and @types/node follow MIN_NODE_MAJOR", async () => {
  const config = await loadConfig();
  for (const v of [...config.node, config.image.nodeVersion])
    assert.ok(NODE_LINES[Number(v)], `Node ${v} is in NODE_LINES`);
  assert.is(activeLts("2026-11-29"), 26);
  const pkg = JSON.parse(readFileSync("package.json", "utf8"));
  assert.is(pkg.engines.node, `>=${MIN_NODE_MAJOR}`);
  assert.match(pkg.devDependencies["@types/node"], new RegExp(`^\\^${MIN_NODE_MAJOR}\\.`));
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
