import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pidAlive, tcpProbe } from "../../../scripts/lib/checks.js";
import { parseLogLine } from "../../../scripts/lib/log.js";
import { procStat, readState, type ServicesState } from "../../../scripts/lib/state.js";
import { exitCodeOf } from "../../../scripts/lib/supervisor.js";
import {
  cleanup,
  freePort,
  get,
  runScript,
  type Started,
  startScript,
  tempDir,
  waitFor,
} from "../../helpers/proc.js";
import { storeEnv } from "../../helpers/store.js";

/** An MCP stand-in: listens on its port, writes a marker on SIGTERM, SIGINT or SIGHUP (and keeps running on HUP); modes "ignore" (keeps running) and "crash" (exits 3). */
const FAKE_MCP = `const net = require("net"), fs = require("fs");
const [port, marker, mode] = process.argv.slice(2);
const srv = net.createServer().listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => {
  fs.writeFileSync(marker, "TERM");
  if (mode === "ignore") return;
  srv.close();
  process.exit(0);
});
process.on("SIGINT", () => {
  fs.writeFileSync(marker, "INT");
  process.exit(0);
});
process.on("SIGHUP", () => fs.writeFileSync(marker, "HUP"));
if (mode === "crash") setTimeout(() => process.exit(3), 300);
`;

interface Box {
  root: string;
  env: Record<string, string>;
  marker: string;
  stateFile: string;
}

/** A temp root with env for the entrypoint and an MCP stand-in command in the given mode. */
async function box(mcpMode?: "obey" | "ignore" | "crash"): Promise<Box> {
  const root = tempDir("entry");
  const fake = join(root, "fake-mcp.cjs");
  writeFileSync(fake, FAKE_MCP);
  const marker = join(root, "mcp-got-term");
  const [metricsPort, mcpPort] = [await freePort(), await freePort()];
  const env: Record<string, string> = {
    ...storeEnv(root),
    HOME: join(root, "user"),
    CODEX_METRICS_PORT: String(metricsPort),
    CODEX_METRICS_HOST: "127.0.0.1",
    MCP_SERVER_PORT: String(mcpPort),
    CODEX_MIN_FREE_BYTES: "1024",
    GIT_USER_NAME: "Codex Bot",
    GIT_USER_EMAIL: "bot@example.com",
  };
  mkdirSync(env.HOME as string);
  if (mcpMode) env.CODEX_MCP_COMMAND = `node ${fake} ${mcpPort} ${marker} ${mcpMode}`;
  return { root, env, marker, stateFile: join(env.CODEX_HOME as string, "run", "services.json") };
}

/** Lines of output that are not the entrypoint's JSON log lines: what the children printed. */
function childLines(out: string): string[] {
  // The supervisor's records are single writes, but the child shares the fd and may write one line in pieces
  // (dash prints "/bin/sh: 1: " and "x: not found" separately), so a record can land inside a child's line:
  // cut whole records out of the byte stream before splitting it into lines.
  return out
    .replace(/\{"time":"[^\n]*\n/g, (m) => (parseLogLine(m.slice(0, -1)) ? "" : m))
    .split("\n")
    .filter((l) => l !== "")
    .sort();
}

/** PIDs of the live (non-zombie) processes in a process group, from /proc. */
function groupMembers(pgid: number): number[] {
  const pids: number[] = [];
  for (const p of readdirSync("/proc")) {
    if (!/^\d+$/.test(p)) continue;
    const st = procStat(Number(p));
    if (st && st.pgrp === pgid && st.state !== "Z") pids.push(Number(p));
  }
  return pids;
}

/** Entrypoints started by a test, killed with their services if the test fails half-way. */
const live: { s: Started; b: Box }[] = [];

test.after.each(() => {
  for (const { s, b } of live.splice(0)) {
    const st = readState(b.stateFile);
    if (st && !(st instanceof Error)) for (const svc of st.services) killGroup(svc.pid);
    s.proc.kill("SIGKILL");
    cleanup(b.root);
  }
});

/** SIGKILLs a process group, ignoring a missing one. */
function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    // gone
  }
}

/** Starts the entrypoint in start mode and waits until both services are recorded and answering. */
async function startServices(b: Box): Promise<{ s: Started; state: ServicesState }> {
  const s = startScript("entrypoint", ["start"], b.env);
  live.push({ s, b });
  const state = await waitFor(() => {
    const st = readState(b.stateFile);
    return st && !(st instanceof Error) && st.services.length === (b.env.CODEX_MCP_COMMAND ? 2 : 1)
      ? st
      : undefined;
  }, `services.json (output: ${s.out()})`);
  await waitFor(
    async () => (await get(`http://127.0.0.1:${b.env.CODEX_METRICS_PORT}/health`)).status === 200,
    "exporter up",
  );
  if (b.env.CODEX_MCP_COMMAND) await mcpListening(b);
  return { s, state };
}

/** Waits until the MCP stand-in accepts connections: by then its signal handlers are installed. */
async function mcpListening(b: Box): Promise<void> {
  await waitFor(
    async () => (await tcpProbe("127.0.0.1", Number(b.env.MCP_SERVER_PORT), 1000)) === undefined,
    "MCP stand-in listening",
  );
}

/** Waits for the entrypoint to exit and returns its code and the time it took. */
async function exited(s: Started, what: string, timeoutMs = 30_000): Promise<number | null> {
  const r = await Promise.race([
    s.exit,
    new Promise<never>((_, rej) =>
      setTimeout(
        () => rej(new Error(`${what}: no exit in ${timeoutMs} ms\n${s.out()}`)),
        timeoutMs,
      ),
    ),
  ]);
  for (let i = live.length - 1; i >= 0; i--) if (live[i]?.s === s) live.splice(i, 1);
  return r.code;
}

test("unknown mode: exit 64 listing the modes, nothing created", async () => {
  const b = await box();
  const r = await runScript("entrypoint", ["serve"], b.env);
  assert.is(r.code, 64);
  assert.match(r.out, /unknown mode \\"serve\\": expected one of start, mcp-only, test, shell/);
  assert.not.ok(existsSync(b.env.CODEX_HOME as string));
  cleanup(b.root);
});

test("bad environment: exit 78 with every problem listed, each naming its variable", async () => {
  const r = await runScript("entrypoint", ["start"], {
    CODEX_MAX_CONCURRENT: "0",
    CODEX_LOG_LEVEL: "loud",
    MCP_SERVER_PORT: "x",
  });
  assert.is(r.code, 78);
  const vars = r.out
    .trim()
    .split("\n")
    .map((l) => parseLogLine(l)?.variable);
  assert.equal(vars.sort(), [
    "CODEX_HOME",
    "CODEX_LOG_LEVEL",
    "CODEX_MAX_CONCURRENT",
    "CODEX_SESSIONS_ROOT",
    "MCP_SERVER_PORT",
  ]);
  const b = await box();
  const m = await runScript("entrypoint", ["mcp-only"], b.env);
  assert.is(m.code, 78);
  assert.match(m.out, /CODEX_MCP_COMMAND: required in mcp-only mode/);
  cleanup(b.root);
});

test("start: runs the exporter and the MCP server, records them, forwards SIGTERM, cleans up", async () => {
  const b = await box("obey");
  const { s, state } = await startServices(b);
  assert.equal(
    state.services.map((x) => x.name),
    ["metrics", "mcp"],
  );
  assert.is(state.entrypointPid, s.proc.pid);
  // The healthcheck sees them both alive and listening.
  const hc = await runScript("healthcheck", [], b.env);
  assert.is(hc.code, 0, hc.out);
  s.proc.kill("SIGTERM");
  assert.is(await exited(s, "after SIGTERM"), 143);
  assert.is(readFileSync(b.marker, "utf8"), "TERM");
  assert.match(s.out(), /"component":"metrics","message":"SIGTERM received, stopping"/);
  for (const svc of state.services) assert.not.ok(pidAlive(svc.pid), `${svc.name} still running`);
  assert.not.ok(existsSync(b.stateFile), "state file left behind");
  // Same JSON lines on stdout and in the entrypoint log.
  const fileLines = readFileSync(join(b.env.CODEX_LOG_DIR as string, "entrypoint.log"), "utf8")
    .trim()
    .split("\n");
  assert.ok(
    fileLines.length > 3 && fileLines.every((l) => parseLogLine(l)?.component === "entrypoint"),
  );
  assert.ok(fileLines.some((l) => l.includes("exiting with 143")));
  cleanup(b.root);
});

test("a child crash stops the others and its exit code becomes ours", async () => {
  const b = await box("crash");
  const s = startScript("entrypoint", ["start"], b.env);
  live.push({ s, b });
  const state = await waitFor(() => {
    const st = readState(b.stateFile);
    return st && !(st instanceof Error) ? st : undefined;
  }, "services.json");
  assert.is(await exited(s, "after the MCP crash"), 3);
  assert.match(s.out(), /mcp exited with 3/);
  const metrics = state.services.find((x) => x.name === "metrics");
  assert.ok(metrics && !pidAlive(metrics.pid), "exporter left running");
  cleanup(b.root);
});

test("a child ignoring SIGTERM is killed after CODEX_STOP_TIMEOUT", async () => {
  const b = await box("ignore");
  b.env.CODEX_STOP_TIMEOUT = "1";
  const { s, state } = await startServices(b);
  s.proc.kill("SIGTERM");
  await waitFor(() => existsSync(b.marker), "the MCP stand-in to get SIGTERM");
  assert.is(await exited(s, "after SIGKILL escalation"), 143);
  assert.match(s.out(), /mcp still running after 1000 ms: SIGKILL/);
  for (const svc of state.services) assert.not.ok(pidAlive(svc.pid));
  cleanup(b.root);
});

test("test mode: healthcheck first, then the command with its exit code and CODEX_DRY_RUN", async () => {
  const b = await box();
  const out = join(b.root, "dry-run");
  const r = await runScript(
    "entrypoint",
    ["test", "sh", "-c", `echo "$CODEX_DRY_RUN" > ${out}; exit 5`],
    b.env,
  );
  assert.is(r.code, 5, r.out);
  assert.match(r.out, /check filesystem: 6 dirs writable/);
  assert.is(readFileSync(out, "utf8").trim(), "true");
  const bad = await runScript("entrypoint", ["test", "sh", "-c", `touch ${out}.ran`], {
    ...b.env,
    CODEX_MIN_FREE_BYTES: String(Number.MAX_SAFE_INTEGER),
  });
  assert.is(bad.code, 1);
  assert.match(bad.out, /healthcheck failed: test mode not started/);
  assert.not.ok(existsSync(`${out}.ran`));
  cleanup(b.root);
});

test("git is configured idempotently; the GitHub token goes to gh on stdin only, never to a log", async () => {
  const b = await box();
  const bin = join(b.root, "bin");
  mkdirSync(bin);
  const seen = join(b.root, "gh-seen");
  // gh stand-in (no GitHub here): records argv, stdin and whether a token leaked into its env.
  writeFileSync(
    join(bin, "gh"),
    `#!/bin/sh\n{ echo "args: $*"; echo "stdin: $(cat)"; echo "env: \${GITHUB_TOKEN:-none}"; } > ${seen}\n`,
  );
  chmodSync(join(bin, "gh"), 0o755);
  const token = "ghp_TOKEN_1234567890abcdef";
  const env = { ...b.env, PATH: `${bin}:${process.env.PATH}`, GITHUB_TOKEN: token };
  for (let i = 0; i < 2; i++) {
    const r = await runScript("entrypoint", ["shell", "-c", "exit 0"], env);
    assert.is(r.code, 0, r.out);
    assert.not.ok(r.out.includes(token), "token on stdout");
    assert.match(r.out, /GitHub CLI logged in/);
  }
  assert.is(
    readFileSync(seen, "utf8"),
    `args: auth login --with-token\nstdin: ${token}\nenv: none\n`,
  );
  assert.not.ok(
    readFileSync(join(b.env.CODEX_LOG_DIR as string, "entrypoint.log"), "utf8").includes(token),
  );
  const gitconfig = readFileSync(join(b.env.HOME as string, ".gitconfig"), "utf8");
  assert.match(gitconfig, /name = Codex Bot/);
  assert.match(gitconfig, /email = bot@example.com/);
  assert.match(gitconfig, /defaultBranch = main/);
  assert.is(gitconfig.split("directory = *").length - 1, 1, "safe.directory added twice");
  cleanup(b.root);
});

test("mcp-only: the MCP command alone, supervised, recorded, SIGINT forwarded", async () => {
  const b = await box("obey");
  const s = startScript("entrypoint", ["mcp-only"], b.env);
  live.push({ s, b });
  const state = await waitFor(() => {
    const st = readState(b.stateFile);
    return st && !(st instanceof Error) ? st : undefined;
  }, "services.json");
  assert.equal(
    state.services.map((x) => x.name),
    ["mcp"],
  );
  await mcpListening(b);
  s.proc.kill("SIGINT");
  assert.is(await exited(s, "after SIGINT"), 130);
  assert.is(readFileSync(b.marker, "utf8"), "INT");
  assert.not.ok(pidAlive(state.services[0]?.pid ?? 0));
  cleanup(b.root);
});

test("a supervisor record written inside a child's line is cut out whole (seen under load in a pipeline cell)", () => {
  const record =
    '{"time":"2026-11-30T02:39:45.737Z","level":"info","component":"entrypoint","message":"started mcp","pid":5066,"port":44967}';
  assert.equal(
    childLines(`/bin/sh: 1: ${record}\nnonexistent-command-cf16: not found\n${record}\n`),
    ["/bin/sh: 1: nonexistent-command-cf16: not found"],
  );
  // Text that only looks like a record stays.
  assert.equal(childLines('{"time":"x"}\n'), ['{"time":"x"}']);
});

test("CODEX_MCP_COMMAND runs as /bin/sh -c runs it: same exit code and output for every kind of command", async () => {
  const commands = [
    "exit 3",
    `FOO=bar sh -c 'echo "FOO=$FOO"; exit 4'`,
    "! true",
    ": nothing to do",
    "umask 077",
    "export X=1",
    "nonexistent-command-cf16",
    "echo piped | tr a-z A-Z",
    "cd / && pwd && exit 5",
    "if true; then exit 7; fi",
    "exec node -e 'process.exit(6)'",
    "kill -TERM $$",
  ];
  const runs = await Promise.all(
    commands.map(async (command) => {
      const b = await box();
      try {
        const r = await runScript("entrypoint", ["mcp-only"], {
          ...b.env,
          CODEX_MCP_COMMAND: command,
        });
        return { command, r };
      } finally {
        cleanup(b.root);
      }
    }),
  );
  for (const { command, r } of runs) {
    const sh = spawnSync("/bin/sh", ["-c", command], { encoding: "utf8" });
    const want = exitCodeOf(sh.status, sh.signal);
    assert.is(r.code, want, `${command}: exit ${r.code}, sh -c gives ${want}\n${r.out}`);
    assert.equal(childLines(r.out), childLines(sh.stdout + sh.stderr), command);
  }
});

test("SIGHUP reaches the MCP server, which keeps running, for a simple and a compound command", async () => {
  for (const wrap of [(c: string) => c, (c: string) => `cd / && ${c}`]) {
    const b = await box("obey");
    b.env.CODEX_MCP_COMMAND = wrap(b.env.CODEX_MCP_COMMAND as string);
    const s = startScript("entrypoint", ["mcp-only"], b.env);
    live.push({ s, b });
    await waitFor(() => readState(b.stateFile), "services.json");
    await mcpListening(b);
    s.proc.kill("SIGHUP");
    await waitFor(
      () => existsSync(b.marker),
      `the MCP server to get SIGHUP (${b.env.CODEX_MCP_COMMAND})`,
    );
    assert.is(readFileSync(b.marker, "utf8"), "HUP");
    await new Promise((r) => setTimeout(r, 500));
    assert.is(s.proc.exitCode, null, `entrypoint exited after SIGHUP:\n${s.out()}`);
    assert.is(await tcpProbe("127.0.0.1", Number(b.env.MCP_SERVER_PORT), 1000), undefined);
    s.proc.kill("SIGTERM");
    assert.is(await exited(s, "after SIGTERM"), 143);
    assert.is(readFileSync(b.marker, "utf8"), "TERM");
    cleanup(b.root);
  }
});

test("SIGINT stops a shell-wrapped command as fast as SIGTERM, background jobs that ignore SIGINT included", async () => {
  const b = await box("obey");
  // A non-interactive sh starts background jobs with SIGINT ignored: `sleep` keeps running on Ctrl-C.
  b.env.CODEX_MCP_COMMAND = `sleep 300 & ${b.env.CODEX_MCP_COMMAND}`;
  b.env.CODEX_STOP_TIMEOUT = "60";
  const s = startScript("entrypoint", ["mcp-only"], b.env);
  live.push({ s, b });
  const state = await waitFor(() => {
    const st = readState(b.stateFile);
    return st && !(st instanceof Error) ? st : undefined;
  }, "services.json");
  await mcpListening(b);
  const pgid = state.services[0]?.pid ?? 0;
  assert.ok(groupMembers(pgid).length >= 3, "sh, sleep and node in the service's group");
  const t0 = Date.now();
  s.proc.kill("SIGINT");
  assert.is(
    await exited(s, "after SIGINT (the old code waited for the 60 s stop timeout)", 15_000),
    130,
  );
  assert.ok(Date.now() - t0 < 15_000);
  assert.is(readFileSync(b.marker, "utf8"), "INT");
  assert.not.match(s.out(), /SIGKILL/);
  assert.equal(groupMembers(pgid), []);
  cleanup(b.root);
});

test("gh's stderr is never copied raw: a failed login is logged once, the token redacted even with quotes in it", async () => {
  const b = await box();
  const bin = join(b.root, "bin");
  mkdirSync(bin);
  // A gh that echoes what it read (the token) to stderr and fails, as a confused CLI might.
  writeFileSync(join(bin, "gh"), `#!/bin/sh\necho "bad credentials: $(cat)" >&2\nexit 1\n`);
  chmodSync(join(bin, "gh"), 0o755);
  const token = 'ghp_TOKEN"with\\quote_1234567890';
  const r = await runScript("entrypoint", ["shell", "-c", "exit 0"], {
    ...b.env,
    PATH: `${bin}:${process.env.PATH}`,
    GITHUB_TOKEN: token,
  });
  assert.is(r.code, 0, r.out);
  assert.not.ok(r.out.includes(token), `token in the output:\n${r.out}`);
  assert.not.ok(
    r.out.includes(JSON.stringify(token).slice(1, -1)),
    `escaped token in the output:\n${r.out}`,
  );
  // Only log lines: nothing gh printed is passed through as it is.
  assert.equal(
    childLines(r.out),
    [],
    `gh's stderr copied raw:\n${r.out}`.replaceAll(token, "<token>"),
  );
  const failed = r.out
    .split("\n")
    .map((l) => parseLogLine(l))
    .find((l) => l?.message.startsWith("gh auth login failed"));
  assert.is(failed?.message, "gh auth login failed (exit 1): bad credentials: ***");
  const file = readFileSync(join(b.env.CODEX_LOG_DIR as string, "entrypoint.log"), "utf8");
  assert.not.ok(file.includes(token) || file.includes(JSON.stringify(token).slice(1, -1)));
  cleanup(b.root);
});

test("a timeout below 1 ms or a bad CODEX_METRICS_HOST: exit 78 at validation, naming each variable", async () => {
  const b = await box();
  for (const [name, value] of [
    ["HEALTH_CHECK_TIMEOUT", "0.0001"],
    ["CODEX_STOP_TIMEOUT", "0.0001"],
    ["CODEX_METRICS_HOST", "not a host"],
    ["CODEX_METRICS_HOST", "   "],
  ] as const) {
    // Shell mode: validation comes first in every mode, and a build that lets the value through ends at once.
    const r = await runScript("entrypoint", ["shell", "-c", "exit 0"], { ...b.env, [name]: value });
    assert.is(r.code, 78, `${name}=${value}: ${r.out}`);
    const vars = r.out
      .trim()
      .split("\n")
      .map((l) => parseLogLine(l)?.variable);
    assert.equal(vars, [name], r.out);
  }
  assert.not.ok(existsSync(b.env.CODEX_HOME as string), "validation comes before any directory");
  cleanup(b.root);
});

test("a child's normal exit is logged at info, a failing one at warn", async () => {
  const b = await box();
  const levelOf = (out: string, message: string) =>
    out
      .split("\n")
      .map((l) => parseLogLine(l))
      .find((l) => l?.message === message)?.level;
  const ok = await runScript("entrypoint", ["test", "true"], b.env);
  assert.is(ok.code, 0, ok.out);
  assert.is(levelOf(ok.out, "test exited with 0"), "info");
  const bad = await runScript("entrypoint", ["test", "sh", "-c", "exit 4"], b.env);
  assert.is(bad.code, 4, bad.out);
  assert.is(levelOf(bad.out, "test exited with 4"), "warn");
  cleanup(b.root);
});

test.run();
