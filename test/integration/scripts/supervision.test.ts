/**
 * The entrypoint's supervision, each test written against a named bug (issue 17, item 5): only the PID signalled and
 * not its group, a second stop signal not escalating, exit 73, GitHub tokens reaching the exporter.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pidAlive, tcpProbe } from "../../../scripts/lib/checks.js";
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

/** A server stand-in: listens, writes TERM to its marker on SIGTERM and exits, or (mode "ignore") keeps running. */
const FAKE = `const net = require("net"), fs = require("fs");
const [port, marker, mode] = process.argv.slice(2);
net.createServer().listen(Number(port), "127.0.0.1");
process.on("SIGTERM", () => {
  fs.appendFileSync(marker, "TERM\\n");
  if (mode !== "ignore") process.exit(0);
});
`;

interface Box {
  root: string;
  env: Record<string, string>;
  fake: string;
  marker: string;
  stateFile: string;
}

async function box(): Promise<Box> {
  const root = tempDir("supervise");
  const fake = join(root, "fake.cjs");
  writeFileSync(fake, FAKE);
  const env: Record<string, string> = {
    ...storeEnv(root),
    HOME: join(root, "user"),
    CODEX_METRICS_PORT: String(await freePort()),
    CODEX_METRICS_HOST: "127.0.0.1",
    MCP_SERVER_PORT: String(await freePort()),
    CODEX_MIN_FREE_BYTES: "1024",
  };
  mkdirSync(env.HOME as string);
  return {
    root,
    env,
    fake,
    marker: join(root, "marker"),
    stateFile: join(env.CODEX_HOME as string, "run", "services.json"),
  };
}

const live: { s: Started; b: Box }[] = [];
test.after.each(() => {
  for (const { s, b } of live.splice(0)) {
    const st = readState(b.stateFile);
    if (st && !(st instanceof Error))
      for (const svc of st.services) {
        try {
          process.kill(-svc.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    s.proc.kill("SIGKILL");
    cleanup(b.root);
  }
});

/** Starts the entrypoint and waits for its services file and the stand-in's port. */
async function start(
  b: Box,
  mode: string,
  services: number,
): Promise<{ s: Started; state: ServicesState }> {
  const s = startScript("entrypoint", [mode], b.env);
  live.push({ s, b });
  const state = await waitFor(() => {
    const st = readState(b.stateFile);
    return st && !(st instanceof Error) && st.services.length === services ? st : undefined;
  }, `services.json (output: ${s.out()})`);
  await waitFor(
    async () => (await tcpProbe("127.0.0.1", Number(b.env.MCP_SERVER_PORT), 1000)) === undefined,
    "the stand-in listening",
  );
  return { s, state };
}

/** The exit code, or a rejection after `ms`. */
async function exitWithin(s: Started, ms: number, what: string): Promise<number | null> {
  const r = await Promise.race([
    s.exit,
    new Promise<never>((_, rej) =>
      setTimeout(() => rej(new Error(`${what}: no exit in ${ms} ms\n${s.out()}`)), ms),
    ),
  ]);
  return r.code;
}

const marks = (f: string) => (existsSync(f) ? readFileSync(f, "utf8").trim().split("\n") : []);

test("SIGTERM reaches a grandchild through the service's process group, not only the shell's PID", async () => {
  const b = await box();
  // `& wait`: sh stays the service's PID and leader, the server is its child. sh itself dies of TERM at once;
  // only a signal to the group reaches the server before the SIGKILL deadline.
  b.env.CODEX_MCP_COMMAND = `node ${b.fake} ${b.env.MCP_SERVER_PORT} ${b.marker} & wait`;
  b.env.CODEX_STOP_TIMEOUT = "60";
  const { s, state } = await start(b, "mcp-only", 1);
  const sh = state.services[0]?.pid as number;
  s.proc.kill("SIGTERM");
  assert.is(await exitWithin(s, 20_000, "after SIGTERM (no SIGKILL before 60 s)"), 143);
  assert.equal(marks(b.marker), ["TERM"], `the server never got SIGTERM:\n${s.out()}`);
  assert.not.match(s.out(), /SIGKILL/);
  assert.not.ok(pidAlive(sh));
  cleanup(b.root);
});

test("a second SIGTERM while stopping SIGKILLs what still runs, long before the stop timeout", async () => {
  const b = await box();
  b.env.CODEX_MCP_COMMAND = `node ${b.fake} ${b.env.MCP_SERVER_PORT} ${b.marker} ignore`;
  b.env.CODEX_STOP_TIMEOUT = "120";
  const { s, state } = await start(b, "mcp-only", 1);
  const pid = state.services[0]?.pid as number;
  s.proc.kill("SIGTERM");
  await waitFor(() => marks(b.marker).includes("TERM"), "the stand-in to get (and ignore) SIGTERM");
  await new Promise((r) => setTimeout(r, 300));
  assert.is(s.proc.exitCode, null, "stopped before the second signal");
  s.proc.kill("SIGTERM");
  // The first signal decides the code: 128 + 15.
  assert.is(
    await exitWithin(s, 20_000, "after the second SIGTERM (the stop timeout is 120 s)"),
    143,
  );
  assert.match(s.out(), /SIGTERM again: SIGKILL/);
  assert.not.ok(pidAlive(pid), "the stand-in survived");
  cleanup(b.root);
});

test("a directory that cannot be created: exit 73 naming it, no service started", async () => {
  const b = await box();
  // A regular file where a parent directory should be: mkdir fails with ENOTDIR.
  writeFileSync(join(b.root, "blocker"), "");
  b.env.CODEX_DATA_DIR = join(b.root, "blocker", "data");
  b.env.CODEX_MCP_COMMAND = `node ${b.fake} ${b.env.MCP_SERVER_PORT} ${b.marker}`;
  const r = await runScript("entrypoint", ["start"], b.env);
  assert.is(r.code, 73, r.out);
  assert.match(r.out, new RegExp(`cannot create ${join(b.root, "blocker", "data")}: ENOTDIR`));
  assert.not.match(r.out, /started (metrics|mcp)/);
  assert.not.ok(existsSync(b.stateFile));
  cleanup(b.root);
});

test("the exporter's environment has no GitHub token; the MCP server's keeps them", async () => {
  const b = await box();
  const token = "ghp_SUPERVISION_TEST_0123456789";
  b.env.GITHUB_TOKEN = token;
  b.env.GH_TOKEN = `${token}_gh`;
  b.env.CODEX_MCP_COMMAND = `node ${b.fake} ${b.env.MCP_SERVER_PORT} ${b.marker}`;
  const { s, state } = await start(b, "start", 2);
  await waitFor(
    async () => (await get(`http://127.0.0.1:${b.env.CODEX_METRICS_PORT}/health`)).status === 200,
    "exporter up",
  );
  const environ = (pid: number) =>
    readFileSync(`/proc/${pid}/environ`, "utf8")
      .split("\0")
      .filter(Boolean)
      .map((kv) => kv.slice(0, kv.indexOf("=")));
  const metrics = state.services.find((x) => x.name === "metrics")?.pid as number;
  const mcp = state.services.find((x) => x.name === "mcp")?.pid as number;
  const exporterVars = environ(metrics);
  assert.ok(exporterVars.includes("CODEX_HOME"), "the exporter's environment was not read");
  assert.not.ok(exporterVars.includes("GITHUB_TOKEN"), "GITHUB_TOKEN reached the exporter");
  assert.not.ok(exporterVars.includes("GH_TOKEN"), "GH_TOKEN reached the exporter");
  // The MCP server drives gh and git: it is meant to have them.
  assert.ok(environ(mcp).includes("GITHUB_TOKEN"));
  assert.not.ok(s.out().includes(token), "a token in the output");
  s.proc.kill("SIGTERM");
  assert.is(await exitWithin(s, 30_000, "after SIGTERM"), 143);
  cleanup(b.root);
});

test.run();
