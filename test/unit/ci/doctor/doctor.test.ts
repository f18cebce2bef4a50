import { rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { DoctorContext } from "../../../../ci/doctor/check.js";
import { doctor, runChecks } from "../../../../ci/doctor/index.js";
import { renderTable } from "../../../../ci/doctor/table.js";
import { contextFor, fakeBin, pathDir } from "./fakes.js";

const ROWS = [
  "node",
  "dagger CLI",
  "docker daemon",
  "docker client",
  "BuildKit",
  "buildx",
  "compose",
  "qemu arm64",
  "registry",
  "base images",
  "extra CA bundle",
  "promtool",
  "amtool",
  "mmdebstrap",
  "docker-registry",
  "jq",
  "bc",
  "tmux",
];

let registry: Server;
let dir: string;
let ctx: DoctorContext;

test.before(async () => {
  // A local registry, so the checks talk to nothing but 127.0.0.1.
  registry = createServer((_, res) => res.writeHead(401).end());
  await new Promise<void>((r) => registry.listen(0, "127.0.0.1", r));
  const local = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
  dir = pathDir();
  ctx = await contextFor(dir);
  ctx.config.images = {
    ...ctx.config.images,
    node: `${local}/node:{version}-bookworm-slim`,
    prometheus: `${local}/prom/prometheus:v2.42.0`,
    alertmanager: `${local}/prom/alertmanager:v0.25.0`,
    dind: `${local}/docker:28-dind`,
  };
});

test.after(() => {
  registry.close();
  rmSync(dir, { recursive: true, force: true });
});

test("the table: one row per check, status column, fix under the row", () => {
  const out = renderTable([
    {
      name: "promtool",
      status: "missing",
      found: "not on PATH",
      fix: "apt-get install prometheus",
    },
    { name: "jq", status: "ok", found: "1.6 at /usr/bin/jq" },
  ]);
  assert.is(
    out,
    [
      "check     status   found",
      "promtool  MISSING  not on PATH",
      "                   fix: apt-get install prometheus",
      "jq        ok       1.6 at /usr/bin/jq",
    ].join("\n"),
  );
});

test("every prerequisite gets a row, in a fixed order", async () => {
  const results = await runChecks(ctx);
  assert.equal(
    results.map((r) => r.name),
    ROWS,
  );
  for (const r of results.filter((x) => x.status !== "ok")) assert.ok(r.fix, `${r.name} has a fix`);
});

/** Runs the doctor in `context`, returning its exit code and printed lines. */
async function runDoctor(fix: boolean, context: DoctorContext) {
  const lines: string[] = [];
  const code = await doctor({
    fix,
    config: context.config,
    context,
    log: (l) => lines.push(l),
    buildImages: async () => {
      throw new Error("the doctor tried to build offline images");
    },
  });
  return { code, lines };
}

test("a bare machine: exit 1, the missing named, each with its Debian package", async () => {
  const { code, lines } = await runDoctor(false, ctx);
  const out = lines.join("\n");
  assert.is(code, 1);
  for (const row of ["docker daemon", "compose", "qemu arm64", "promtool", "amtool"])
    assert.match(out, new RegExp(`^${row} +MISSING`, "m"));
  assert.match(out, /^registry +ok +127\.0\.0\.1:\d+ answers/m);
  assert.match(out, /fix: apt-get install prometheus-alertmanager/);
  assert.match(lines.at(-1) ?? "", /^doctor: missing docker daemon, .*amtool: run `npm run setup`/);
});

test("--fix as non-root only says what to do", async () => {
  const { code, lines } = await runDoctor(true, ctx);
  assert.is(code, 1);
  assert.ok(lines.some((l) => l.includes("only on Debian or Ubuntu as root")));
  assert.not.ok(
    lines.some((l) => l.startsWith("--fix:")),
    "attempted a fix",
  );
});

test("the doctor is ready when the needed tools are there (optional ones only warn)", async () => {
  const tools = pathDir();
  try {
    // Stand-ins that answer like the real tools; the daemon is what `docker info` says.
    fakeBin(
      tools,
      "docker",
      `case "$1" in --version) echo "Docker version 20.10.24, build x";; info) echo "20.10.24 Debian";; *) exit 1;; esac`,
    );
    fakeBin(tools, "docker-compose", "echo 1.29.2");
    fakeBin(tools, "promtool", 'echo "promtool, version 2.42.0"');
    fakeBin(tools, "amtool", 'echo "amtool, version 0.25.0"');
    const ready = { ...ctx, env: { PATH: tools }, host: { ...ctx.host, arch: "arm64" } };
    const { code, lines } = await runDoctor(false, ready);
    assert.is(code, 0, lines.join("\n"));
    assert.is(lines.at(-1), "doctor: ready (warnings are optional)");
  } finally {
    rmSync(tools, { recursive: true, force: true });
  }
});

test.run();
