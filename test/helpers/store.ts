/** Generates a Codex Father state tree (sessions, queue, git-state, MCP log) with known totals, for tests and benchmarks. */
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** Sizes of a generated store. */
export interface StoreSpec {
  sessions: number;
  queue: number;
  gitState: number;
  mcpLines: number;
  /** Exactly this many sessions running, spread evenly, the rest alternately completed and failed; default one in three. */
  running?: number;
}

type State = "running" | "completed" | "failed";

/** The state of session i in a store of this spec (see StoreSpec.running). */
export function sessionStateOf(i: number, spec: Pick<StoreSpec, "sessions" | "running">): State {
  if (spec.running === undefined)
    return (["completed", "failed", "running"] as const)[i % 3] as State;
  const step = Math.max(1, Math.floor(spec.sessions / Math.max(1, spec.running)));
  if (i % step === 0 && i / step < spec.running) return "running";
  return i % 2 === 0 ? "completed" : "failed";
}

/** Indices of the running sessions of a store of this spec. */
export function runningSessions(spec: Pick<StoreSpec, "sessions" | "running">): number[] {
  const out: number[] = [];
  for (let i = 0; i < spec.sessions; i++) if (sessionStateOf(i, spec) === "running") out.push(i);
  return out;
}

/** Directory name of session i. */
export function sessionName(i: number): string {
  return `cdx-${String(i).padStart(6, "0")}`;
}

/** What the generated store should produce. */
export interface StoreTotals {
  running: number;
  completed: number;
  failed: number;
  queue: number;
  gitOk: number;
  gitFailed: number;
  mcpRequests: number;
  mcpErrors: number;
  /** Sum of durations of finished sessions. */
  taskDurationSum: number;
}

/** Paths of a store's env. */
export type StoreEnv = {
  CODEX_HOME: string;
  CODEX_SESSIONS_ROOT: string;
  CODEX_DATA_DIR: string;
  CODEX_LOG_DIR: string;
  CODEX_MCP_LOG: string;
};

/** The env of a store rooted at `root`, ready for the runtime scripts. */
export function storeEnv(root: string): StoreEnv {
  return {
    CODEX_HOME: join(root, "home"),
    CODEX_SESSIONS_ROOT: join(root, "home", "sessions"),
    CODEX_DATA_DIR: join(root, "data"),
    CODEX_LOG_DIR: join(root, "logs"),
    CODEX_MCP_LOG: join(root, "logs", "mcp-server.log"),
  };
}

/**
 * A tree the healthcheck finds healthy under `root`: every required directory, and a HOME whose git config
 * has an identity. Returns the env to run it with (a low free-space floor, so any test disk passes).
 */
export function healthyTree(root: string) {
  const env = { ...storeEnv(root), HOME: join(root, "home-user"), CODEX_MIN_FREE_BYTES: "1024" };
  for (const d of [
    env.CODEX_SESSIONS_ROOT,
    join(env.CODEX_HOME, "queue"),
    join(env.CODEX_HOME, "git-state"),
    env.CODEX_DATA_DIR,
    env.CODEX_LOG_DIR,
    env.HOME,
  ])
    mkdirSync(d, { recursive: true });
  writeFileSync(join(env.HOME, ".gitconfig"), "[user]\n\tname = T\n\temail = t@example.com\n");
  return env;
}

/** Session i is completed (i%3==0), failed (1) or running (2); finished ones have a duration of i%100 seconds. */
export function writeSession(
  sessionsRoot: string,
  i: number,
  state?: "running" | "completed" | "failed",
): void {
  const s = state ?? (["completed", "failed", "running"] as const)[i % 3];
  const dir = join(sessionsRoot, sessionName(i));
  mkdirSync(dir, { recursive: true });
  const lines = [`[job] session ${i} started`, "[job] codex exec ...", "[job] some output"];
  if (s === "completed") lines.push("Exit Code: 0", "CONTROL: DONE");
  if (s === "failed") lines.push("Exit Code: 2");
  writeFileSync(join(dir, "job.log"), `${lines.join("\n")}\n`);
  if (s !== "running")
    writeFileSync(
      join(dir, "job.meta.json"),
      JSON.stringify({ id: `cdx-${i}`, duration: i % 100, exitCode: s === "failed" ? 2 : 0 }),
    );
}

/** One MCP log line: every 5th is an error, the rest requests with a duration, every 7th unrelated noise. */
export function mcpLine(i: number): string {
  if (i % 7 === 0) return `2025-01-01T00:00:00Z INFO heartbeat ${i}`;
  if (i % 5 === 0) return `2025-01-01T00:00:00Z ERROR MCP Error code=-32000 id=${i}`;
  return `2025-01-01T00:00:00Z INFO MCP Request method=tools/call id=${i} duration:0.${String(i % 1000).padStart(3, "0")}`;
}

/** Totals of mcpLine(from..to-1). */
export function mcpTotals(from: number, to: number): { requests: number; errors: number } {
  let requests = 0;
  let errors = 0;
  for (let i = from; i < to; i++) {
    if (i % 7 === 0) continue;
    if (i % 5 === 0) errors++;
    else requests++;
  }
  return { requests, errors };
}

/** Appends mcpLine(from..to-1) to a log file, in big writes. */
export function appendMcpLines(file: string, from: number, to: number): void {
  for (let start = from; start < to; start += 50_000) {
    const end = Math.min(to, start + 50_000);
    const parts: string[] = [];
    for (let i = start; i < end; i++) parts.push(mcpLine(i));
    appendFileSync(file, `${parts.join("\n")}\n`);
  }
}

/** Writes a whole store under `root` and returns its expected totals. */
export function generateStore(root: string, spec: StoreSpec): StoreTotals {
  const env = storeEnv(root);
  const home = env.CODEX_HOME as string;
  const sessionsRoot = env.CODEX_SESSIONS_ROOT as string;
  for (const d of [
    sessionsRoot,
    join(home, "queue"),
    join(home, "git-state"),
    env.CODEX_DATA_DIR as string,
    env.CODEX_LOG_DIR as string,
  ]) {
    mkdirSync(d, { recursive: true });
  }
  const t: StoreTotals = {
    running: 0,
    completed: 0,
    failed: 0,
    queue: spec.queue,
    gitOk: 0,
    gitFailed: 0,
    mcpRequests: 0,
    mcpErrors: 0,
    taskDurationSum: 0,
  };
  for (let i = 0; i < spec.sessions; i++) {
    const s = sessionStateOf(i, spec);
    writeSession(sessionsRoot, i, s);
    t[s]++;
    if (s !== "running") t.taskDurationSum += i % 100;
  }
  for (let i = 0; i < spec.queue; i++) writeFileSync(join(home, "queue", `task-${i}.running`), "");
  // Finished and pending queue entries that must not count.
  writeFileSync(join(home, "queue", "task-done.finished"), "");
  for (let i = 0; i < spec.gitState; i++) {
    const status = i % 4 === 0 ? "failed" : "ok";
    if (status === "ok") t.gitOk++;
    else t.gitFailed++;
    writeFileSync(
      join(home, "git-state", `op-${i}.json`),
      JSON.stringify({ id: i, op: "commit", status }),
    );
  }
  writeFileSync(env.CODEX_MCP_LOG as string, "");
  appendMcpLines(env.CODEX_MCP_LOG as string, 0, spec.mcpLines);
  const m = mcpTotals(0, spec.mcpLines);
  t.mcpRequests = m.requests;
  t.mcpErrors = m.errors;
  return t;
}
