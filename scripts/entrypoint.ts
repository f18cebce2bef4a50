/**
 * Container entrypoint: validates the environment, prepares directories and git, then runs a mode
 * and supervises its processes. Meant to run under tini (`tini -- node entrypoint.js <mode>`).
 *
 * Modes: start (exporter + MCP server), mcp-only, test [cmd...], shell [args...].
 * Exit codes: the supervised child's code; 64 unknown mode; 78 bad environment; 73 a directory cannot be created.
 */
import { mkdirSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { which, $ as zx$ } from "zx/core";
import { onPath, runChecks } from "./lib/checks.js";
import { parseEnv, type RuntimeEnv, requiredDirs } from "./lib/env.js";
import { createLogger, type Logger } from "./lib/log.js";
import { procStat, readState, removeState, writeState } from "./lib/state.js";
import { type Running, type ServiceSpec, supervise } from "./lib/supervisor.js";

const MODES = ["start", "mcp-only", "test", "shell"] as const;
type Mode = (typeof MODES)[number];
const EX_USAGE = 64;
const EX_CONFIG = 78;
const EX_CANTCREAT = 73;
const SECRETS = [process.env.GITHUB_TOKEN, process.env.GH_TOKEN];
// Quiet: zx would copy a failing command's stderr to ours raw, past the logger and its redaction.
// What a command printed reaches the output only through a log line.
const $ = zx$({ quiet: true });

const [modeArg = "start", ...rest] = process.argv.slice(2);
let log = createLogger("entrypoint", { secrets: SECRETS });

if (modeArg === "help" || modeArg === "--help") {
  process.stdout.write(`usage: entrypoint.js [${MODES.join("|")}] [args...]\n`);
  process.exit(0);
}
if (!(MODES as readonly string[]).includes(modeArg)) {
  log.error(`unknown mode "${modeArg}": expected one of ${MODES.join(", ")}`);
  process.exit(EX_USAGE);
}
const mode = modeArg as Mode;

const parsed = parseEnv(process.env);
const problems = parsed.ok ? [] : parsed.errors;
if (parsed.ok && mode === "mcp-only" && !parsed.env.mcpCommand)
  problems.push("CODEX_MCP_COMMAND: required in mcp-only mode");
if (!parsed.ok || problems.length > 0) {
  for (const p of problems) log.error(`invalid environment: ${p}`, { variable: p.split(":")[0] });
  process.exit(EX_CONFIG);
}
const env = parsed.env;
// Children (and anyone reading `docker inspect`) see the same values we use.
Object.assign(process.env, parsed.defaults);
log = createLogger("entrypoint", { level: env.logLevel, secrets: SECRETS });
if (process.pid === 1)
  log.warn(
    "running as PID 1 without an init: orphaned grandchildren will not be reaped; run under tini or `docker run --init`",
  );

prepareDirs(env, log);
log.toFile(join(env.logDir, "entrypoint.log"));
log.info(`starting in ${mode} mode`, { pid: process.pid });
clearStaleState(env);
await setupGit(env);
await loginGitHub();

const code = await runMode(mode, rest);
log.info(`exiting with ${code}`);
process.exit(code);

/** Creates the state, session, data and log directories; exits 73 when one cannot be made. */
function prepareDirs(env: RuntimeEnv, log: Logger): void {
  for (const dir of requiredDirs(env)) {
    try {
      if (mkdirSync(dir, { recursive: true })) log.info(`created ${dir}`);
    } catch (e) {
      log.error(`cannot create ${dir}: ${(e as NodeJS.ErrnoException).code ?? e}`);
      process.exit(EX_CANTCREAT);
    }
  }
}

/** Removes a services file left by an entrypoint that died without cleaning up (a live one is left alone). */
function clearStaleState(env: RuntimeEnv): void {
  const s = readState(env.stateFile);
  if (s instanceof Error || (s && !procStat(s.entrypointPid))) removeState(env.stateFile);
}

/** Sets the git identity, safe.directory and default branch; problems are logged, the healthcheck reports them. */
async function setupGit(env: RuntimeEnv): Promise<void> {
  if (!(await which("git", { nothrow: true }))) {
    log.error("git not found on PATH: git setup skipped");
    return;
  }
  try {
    if (env.gitUserName) await $`git config --global user.name ${env.gitUserName}`;
    if (env.gitUserEmail) await $`git config --global user.email ${env.gitUserEmail}`;
    // --add on every start would grow the config by one line per restart.
    const safe = await $`git config --global --get-all safe.directory`.nothrow();
    if (!safe.stdout.split("\n").includes("*"))
      await $`git config --global --add safe.directory ${"*"}`;
    await $`git config --global init.defaultBranch main`;
    log.info("git configured", { user: env.gitUserName ?? null, email: env.gitUserEmail ?? null });
  } catch (e) {
    log.error(`git config failed: ${(e as { stderr?: string }).stderr?.trim() || e}`);
  }
}

/** Logs gh in with GITHUB_TOKEN on stdin, never in argv or logs. */
async function loginGitHub(): Promise<void> {
  const token = process.env.GITHUB_TOKEN;
  if (!token) return;
  if (!(await which("gh", { nothrow: true }))) {
    log.warn("GITHUB_TOKEN is set but gh is not installed: GitHub CLI login skipped");
    return;
  }
  // gh refuses to store credentials while GITHUB_TOKEN/GH_TOKEN are in its environment.
  const r = await $({
    input: token,
    env: withoutTokens(process.env),
    nothrow: true,
    quiet: true,
  })`gh auth login --with-token`;
  if (r.exitCode === 0) log.info("GitHub CLI logged in");
  else log.warn(`gh auth login failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
}

/** Runs the chosen mode to completion and returns the exit code. */
async function runMode(mode: Mode, args: string[]): Promise<number> {
  const stopTimeoutMs = env.stopTimeoutMs;
  if (mode === "start") {
    const specs = env.mcpCommand ? [exporterSpec(), mcpSpec(env.mcpCommand)] : [exporterSpec()];
    return superviseServices(specs);
  }
  if (mode === "mcp-only") return superviseServices([mcpSpec(env.mcpCommand as string)]);
  const shell = onPath("bash") ? "bash" : "sh";
  if (mode === "test") {
    const report = await runChecks(env);
    for (const c of report.checks)
      log[c.status === "fail" ? "error" : c.status === "warn" ? "warn" : "info"](
        `check ${c.name}: ${c.message}`,
      );
    if (!report.healthy) {
      log.error("healthcheck failed: test mode not started");
      return 1;
    }
    const [cmd = shell, ...cmdArgs] = args;
    const childEnv = { ...process.env, CODEX_DRY_RUN: "true", CODEX_LOG_LEVEL: "debug" };
    return supervise([{ name: "test", command: cmd, args: cmdArgs, env: childEnv }], {
      stopTimeoutMs,
      log,
      interactive: true,
    });
  }
  return supervise([{ name: "shell", command: shell, args }], {
    stopTimeoutMs,
    log,
    interactive: true,
  });
}

/** Supervises long-running services, recording them in the state file for the healthcheck. */
async function superviseServices(specs: ServiceSpec[]): Promise<number> {
  const code = await supervise(specs, {
    stopTimeoutMs: env.stopTimeoutMs,
    log,
    onStarted: recordServices,
  });
  removeState(env.stateFile);
  return code;
}

/** Writes the services state file (atomically). */
function recordServices(children: Running[]): void {
  try {
    writeState(env.stateFile, {
      version: 1,
      mode,
      entrypointPid: process.pid,
      updatedAt: new Date().toISOString(),
      services: children.map((c) => ({
        name: c.spec.name,
        pid: c.pid,
        port: c.spec.port,
        host: c.spec.host,
        startTicks: procStat(c.pid)?.startTicks,
      })),
    });
  } catch (e) {
    // Supervision goes on; the healthcheck will report the missing services.
    log.error(`cannot write ${env.stateFile}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
}

/** The exporter, run with this Node and its loader flags, from this file's directory (dist/ or, under tsx, the sources). */
function exporterSpec(): ServiceSpec {
  const here = fileURLToPath(import.meta.url);
  const script = join(dirname(here), `metrics${extname(here)}`);
  // Keep loader flags (tsx), drop debugger ones that would clash on their port.
  const execArgv = process.execArgv.filter((a) => !a.startsWith("--inspect"));
  return {
    name: "metrics",
    command: process.execPath,
    args: [...execArgv, script],
    env: withoutTokens(process.env),
    stdio: ["ignore", "inherit", "inherit"],
    port: env.metricsPort,
    host: env.metricsHost,
  };
}

/**
 * The MCP server: CODEX_MCP_COMMAND given to `sh -c` as it is (assignments, builtins, `exit`, pipes all mean what
 * they mean to sh), in its own process group, so stop signals reach the server and all it spawns directly.
 */
function mcpSpec(command: string): ServiceSpec {
  return {
    name: "mcp",
    command: "/bin/sh",
    args: ["-c", command],
    port: env.mcpPort,
    shellWrapper: true,
  };
}

/** A copy of the environment without GitHub tokens. */
function withoutTokens(source: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { GITHUB_TOKEN: _t, GH_TOKEN: _g, ...rest } = source;
  return rest;
}
