import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { writeState } from "../../../scripts/lib/state.js";
import { cleanup, freePort, repoRoot, runScript, tempDir } from "../../helpers/proc.js";
import { healthyTree } from "../../helpers/store.js";

/** A healthy tree: all required dirs, a HOME with a git identity. */
function tree() {
  const root = tempDir("health");
  chmodSync(root, 0o755);
  return { root, env: healthyTree(root) };
}

/** The host's git, resolved through PATH. */
function gitPath(): string {
  const p = spawnSync("sh", ["-c", "command -v git"], { encoding: "utf8" });
  if (p.status !== 0) throw new Error("git not on PATH");
  return p.stdout.trim();
}

/** Runs the healthcheck on a tree. */
const check = (env: Record<string, string>, args: string[] = []) =>
  runScript("healthcheck", args, env);

test("a healthy tree: exit 0, one line per check", async () => {
  const t = tree();
  const r = await check(t.env);
  assert.is(r.code, 0, r.out);
  const lines = r.out.trim().split("\n");
  assert.equal(
    lines.map((l) => l.split(/\s+/)[1]),
    ["filesystem", "tools", "git", "services", undefined],
  );
  assert.match(r.out, /^ok\s+git\s+git \d+\.\d+/m);
  assert.is(lines.at(-1), "healthy");
  cleanup(t.root);
});

test("--json gives a machine-readable report", async () => {
  const t = tree();
  rmSync(t.env.CODEX_LOG_DIR, { recursive: true });
  const r = await check(t.env, ["--json"]);
  assert.is(r.code, 1);
  const report = JSON.parse(r.out) as {
    healthy: boolean;
    checks: { name: string; status: string; message: string }[];
  };
  assert.is(report.healthy, false);
  const fs = report.checks.find((c) => c.name === "filesystem");
  assert.is(fs?.status, "fail");
  assert.match(fs?.message ?? "", /logs: missing/);
  cleanup(t.root);
});

test("missing dir: exit 1 naming it", async () => {
  const t = tree();
  rmSync(join(t.env.CODEX_HOME, "queue"), { recursive: true });
  const r = await check(t.env);
  assert.is(r.code, 1);
  assert.match(r.out, /^fail\s+filesystem\s+.*home\/queue: missing/m);
  assert.match(r.out, /unhealthy: filesystem$/m);
  cleanup(t.root);
});

test("a file where a dir should be: exit 1", async () => {
  const t = tree();
  rmSync(t.env.CODEX_DATA_DIR, { recursive: true });
  writeFileSync(t.env.CODEX_DATA_DIR, "");
  const r = await check(t.env);
  assert.is(r.code, 1);
  assert.match(r.out, /data: not a directory/);
  cleanup(t.root);
});

// The read-only mount case (root writes through mode bits, not through a read-only mount) is in
// test/e2e/scripts/healthcheck-readonly.test.ts: it needs a mount, which Docker makes there.

test("unwritable dir by permissions: exit 1 (as nobody when we are root)", async () => {
  const t = tree();
  const asRoot = process.getuid?.() === 0;
  const dirs = [
    t.env.CODEX_HOME,
    t.env.CODEX_SESSIONS_ROOT,
    join(t.env.CODEX_HOME, "queue"),
    join(t.env.CODEX_HOME, "git-state"),
    t.env.CODEX_DATA_DIR,
    t.env.CODEX_LOG_DIR,
    t.env.HOME,
  ];
  for (const d of dirs) chmodSync(d, 0o777);
  chmodSync(t.env.CODEX_LOG_DIR, 0o555);
  let r: { code: number | null; out: string };
  if (asRoot) {
    // Root writes through any mode bits: drop to nobody for a real permission failure.
    const p = spawnSync(
      "setpriv",
      [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        process.execPath,
        "--import",
        "tsx",
        join(repoRoot, "scripts", "healthcheck.ts"),
      ],
      {
        cwd: repoRoot,
        env: { PATH: process.env.PATH, ...t.env },
        encoding: "utf8",
        timeout: 60_000,
      },
    );
    r = { code: p.status, out: p.stdout + p.stderr };
  } else {
    r = await check(t.env);
  }
  assert.is(r.code, 1, r.out);
  assert.match(r.out, /logs: not writable \(EACCES/);
  assert.not.match(r.out, /home: not writable/);
  cleanup(t.root);
});

test("not enough free space: exit 1", async () => {
  const t = tree();
  const r = await check({ ...t.env, CODEX_MIN_FREE_BYTES: String(Number.MAX_SAFE_INTEGER) });
  assert.is(r.code, 1);
  assert.match(r.out, /bytes free, below/);
  cleanup(t.root);
});

test("dead service: a recorded PID that has exited gives exit 1", async () => {
  const t = tree();
  const dead = spawn(process.execPath, ["-e", "0"]);
  await new Promise((r) => dead.once("exit", r));
  writeState(join(t.env.CODEX_HOME, "run", "services.json"), {
    version: 1,
    mode: "start",
    entrypointPid: process.pid,
    updatedAt: new Date().toISOString(),
    services: [{ name: "mcp", pid: dead.pid as number }],
  });
  const r = await check(t.env);
  assert.is(r.code, 1);
  assert.match(
    r.out,
    new RegExp(`^fail\\s+services\\s+mcp \\(pid ${dead.pid}\\) is not running`, "m"),
  );
  cleanup(t.root);
});

test("closed port: a live service whose port refuses connections gives exit 1; open, it passes", async () => {
  const t = tree();
  const srv = createServer().listen(0, "127.0.0.1");
  await new Promise((r) => srv.once("listening", r));
  const addr = srv.address();
  const open = typeof addr === "object" && addr ? addr.port : 0;
  const closed = await freePort();
  const state = (port: number) =>
    writeState(join(t.env.CODEX_HOME, "run", "services.json"), {
      version: 1,
      mode: "start",
      entrypointPid: process.pid,
      updatedAt: new Date().toISOString(),
      services: [{ name: "metrics", pid: process.pid, port, host: "0.0.0.0" }],
    });
  state(open);
  const ok = await check(t.env);
  assert.is(ok.code, 0, ok.out);
  assert.match(ok.out, new RegExp(`metrics pid ${process.pid} :${open}`));
  state(closed);
  const r = await check(t.env);
  assert.is(r.code, 1);
  assert.match(
    r.out,
    new RegExp(`metrics port 127\\.0\\.0\\.1:${closed} refused \\(ECONNREFUSED\\)`),
  );
  srv.close();
  cleanup(t.root);
});

test("a corrupt state file is a failure, not a crash", async () => {
  const t = tree();
  mkdirSync(join(t.env.CODEX_HOME, "run"));
  writeFileSync(join(t.env.CODEX_HOME, "run", "services.json"), "{");
  const r = await check(t.env);
  assert.is(r.code, 1);
  assert.match(r.out, /services\.json: corrupt JSON/);
  cleanup(t.root);
});

test("a hung check times out alone and the command still ends: exit 1", async () => {
  const t = tree();
  const bin = join(t.root, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "git"), "#!/bin/sh\nexec sleep 30\n");
  chmodSync(join(bin, "git"), 0o755);
  const t0 = Date.now();
  const r = await check({
    ...t.env,
    PATH: `${bin}:${process.env.PATH}`,
    HEALTH_CHECK_TIMEOUT: "1",
  });
  assert.is(r.code, 1);
  assert.ok(Date.now() - t0 < 20_000, "healthcheck hung");
  assert.match(r.out, /^fail\s+git\s+timed out after 1000 ms/m);
  assert.match(r.out, /^ok\s+filesystem/m);
  cleanup(t.root);
});

test("no git on PATH fails tools; no gh is only a warning", async () => {
  const t = tree();
  const bin = join(t.root, "bin");
  mkdirSync(bin);
  symlinkSync(process.execPath, join(bin, "node"));
  const r = await check({ ...t.env, PATH: bin });
  assert.is(r.code, 1);
  assert.match(r.out, /^fail\s+tools\s+missing on PATH: git/m);
  // node and git but no gh, whatever the host has: a warning, and still healthy (exit 0).
  symlinkSync(gitPath(), join(bin, "git"));
  const ok = await check({ ...t.env, PATH: bin });
  assert.match(ok.out, /^warn\s+tools\s+node, git found; gh missing/m);
  assert.is(ok.code, 0, ok.out);
  assert.is(ok.out.trim().split("\n").at(-1), "healthy");
  cleanup(t.root);
});

test("bad environment: exit 1 naming the variable", async () => {
  const r = await check({
    CODEX_HOME: "/tmp/x",
    CODEX_SESSIONS_ROOT: "/tmp/y",
    HEALTH_CHECK_TIMEOUT: "forever",
  });
  assert.is(r.code, 1);
  assert.match(r.out, /^fail\s+env\s+HEALTH_CHECK_TIMEOUT: must be a number of seconds/m);
});

/** Runs the healthcheck from `cwd` (outside any git repository, as in the image's /app), not from the repo. */
function checkFrom(cwd: string, env: Record<string, string | undefined>) {
  const p = spawnSync(
    process.execPath,
    ["--import", import.meta.resolve("tsx"), join(repoRoot, "scripts", "healthcheck.ts")],
    { cwd, env: { PATH: process.env.PATH, ...env }, encoding: "utf8", timeout: 60_000 },
  );
  return { code: p.status, out: p.stdout + p.stderr };
}

test("a healthy run spawns no git once git's version is recorded; a new git binary is asked again", async () => {
  const t = tree();
  const bin = join(t.root, "bin");
  mkdirSync(bin);
  const calls = join(t.root, "git-calls");
  // A git that logs each call, answers --version itself and passes the rest to the real git.
  const realGit = spawnSync("sh", ["-c", "command -v git"], { encoding: "utf8" }).stdout.trim();
  writeFileSync(
    join(bin, "git"),
    `#!/bin/sh\necho "$*" >> ${calls}\n[ "$1" = --version ] && { echo "git version 9.8.7"; exit 0; }\nexec ${realGit} "$@"\n`,
  );
  chmodSync(join(bin, "git"), 0o755);
  // GIT_CONFIG_NOSYSTEM: this git is not Debian's, whose system config file the reader knows.
  const env = { ...t.env, PATH: `${bin}:${process.env.PATH}`, GIT_CONFIG_NOSYSTEM: "1" };
  const logged = () => readFileSync(calls, "utf8").trim().split("\n");
  for (let i = 0; i < 3; i++) {
    const r = checkFrom(t.root, env);
    assert.is(r.code, 0, r.out);
    assert.match(r.out, /^ok\s+git\s+git 9\.8\.7; user configured/m);
  }
  assert.equal(logged(), ["--version"], "git spawned again after its version was recorded");
  utimesSync(join(bin, "git"), new Date(), new Date(Date.now() + 5000));
  assert.is(checkFrom(t.root, env).code, 0);
  assert.equal(logged(), ["--version", "--version"]);
  // No identity in the files: git itself is asked, and its answer (none) is a warning as before.
  writeFileSync(join(t.env.HOME, ".gitconfig"), "[core]\n\tautocrlf = false\n");
  const w = checkFrom(t.root, env);
  assert.is(w.code, 0, w.out);
  assert.match(w.out, /^warn\s+git\s+git 9\.8\.7; user\.name\/user\.email not configured/m);
  assert.equal(logged(), ["--version", "--version", "config --get-regexp ^user\\.(name|email)$"]);
  cleanup(t.root);
});

test.run();
