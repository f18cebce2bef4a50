import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pidAlive, tcpProbe } from "../../../scripts/lib/checks.js";
import { parseLogLine } from "../../../scripts/lib/log.js";
import { readState, type ServicesState } from "../../../scripts/lib/state.js";
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

/** An MCP stand-in: listens on its port, writes a marker on SIGTERM or SIGINT; modes "ignore" (keeps running) and "crash" (exits 3). */
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

test.run();
