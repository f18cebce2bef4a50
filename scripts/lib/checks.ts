/**
 * Health checks shared by the healthcheck command and the exporter's /ready (node builtins only: no zx, for speed).
 * Startup cost counts here (the healthcheck runs every 30 s): fs callbacks instead of node:fs/promises, and
 * process.hrtime instead of `performance`, each of which loads a dozen more builtin modules; node:child_process
 * and node:net (with the stream stack) only when git must really be asked or a port really dialled.
 */
import {
  closeSync,
  mkdir,
  openSync,
  readSync,
  rmdir,
  type Stats,
  type StatsFs,
  stat,
  statfs,
} from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { type RuntimeEnv, requiredDirs } from "./env.js";
import { gitVersion, isExecutableFile, userFromFiles } from "./gitinfo.js";
import { procStat, readState, type ServiceRecord } from "./state.js";

/** Outcome of one check. */
export interface CheckResult {
  name: string;
  status: "ok" | "warn" | "fail";
  message: string;
  ms: number;
}

/** The full report: healthy when no check failed. */
export interface HealthReport {
  healthy: boolean;
  checks: CheckResult[];
}

/** A check: resolves to its status and a one-line message. */
export type Check = (env: RuntimeEnv) => Promise<Pick<CheckResult, "status" | "message">>;

const GiB = 1024 ** 3;

/** A callback-style fs call as a promise. */
function call<T>(
  f: (cb: (err: NodeJS.ErrnoException | null, value: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) => f((err, value) => (err ? reject(err) : resolve(value))));
}

/** Milliseconds on a monotonic clock. */
function now(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** Every required dir exists and takes a real write, and each filesystem has at least CODEX_MIN_FREE_BYTES free. */
export const checkFilesystem: Check = async (env) => {
  const dirs = requiredDirs(env);
  // Async fs so a hung mount trips the check's timeout instead of freezing the process.
  const found = await Promise.all(dirs.map(async (dir) => ({ dir, ...(await dirState(dir)) })));
  const problems = found.flatMap((f) => (f.problem ? [f.problem] : []));
  // One statfs per filesystem, not per directory: they usually share one or two.
  const byDev = new Map<number, string>();
  for (const f of found) if (f.dev !== undefined && !byDev.has(f.dev)) byDev.set(f.dev, f.dir);
  const free = await Promise.all(
    [...byDev.values()].map(async (dir) => ({ dir, bytes: await freeBytes(dir) })),
  );
  for (const f of free)
    if (f.bytes < env.minFreeBytes)
      problems.push(`${f.dir}: ${f.bytes} bytes free, below ${env.minFreeBytes}`);
  if (problems.length > 0) return { status: "fail", message: problems.join("; ") };
  const minFree = Math.min(...free.map((f) => f.bytes));
  return {
    status: "ok",
    message: `${dirs.length} dirs writable, ${(minFree / GiB).toFixed(1)} GiB free`,
  };
};

/** Why a directory is unusable, or undefined. */
export async function dirProblem(dir: string): Promise<string | undefined> {
  return (await dirState(dir)).problem;
}

/**
 * Stats a directory and probes it with a real write (a temp subdirectory, made and removed), because
 * access(W_OK) says yes to root even on a read-only mount. Returns its device, or the problem. The stat and the
 * probe run side by side (two steps through the thread pool instead of three); the stat decides the message.
 */
async function dirState(dir: string): Promise<{ dev?: number; problem?: string }> {
  const written = writeProbe(join(dir, `.healthcheck-${process.pid}-${Date.now()}`));
  let dev: number;
  try {
    const st = await call<Stats>((cb) => stat(dir, cb));
    if (!st.isDirectory()) {
      await written;
      return { problem: `${dir}: not a directory` };
    }
    dev = st.dev;
  } catch (e) {
    await written;
    return {
      problem:
        (e as NodeJS.ErrnoException).code === "ENOENT"
          ? `${dir}: missing`
          : `${dir}: ${errText(e)}`,
    };
  }
  const err = await written;
  return err ? { dev, problem: `${dir}: not writable (${errText(err)})` } : { dev };
}

/** Makes and removes a directory; resolves with the error of the first step that failed, if any. */
async function writeProbe(probe: string): Promise<unknown> {
  try {
    await call<void>((cb) => mkdir(probe, (e) => cb(e, undefined)));
    await call<void>((cb) => rmdir(probe, (e) => cb(e, undefined)));
    return undefined;
  } catch (e) {
    return e;
  }
}

/** Bytes available to unprivileged users on the filesystem of a path (0 when it cannot be read). */
async function freeBytes(dir: string): Promise<number> {
  try {
    const fs = await call<StatsFs>((cb) => statfs(dir, cb));
    return fs.bavail * fs.bsize;
  } catch {
    return 0;
  }
}

/** node and git are on PATH; a missing gh is only a warning. */
export const checkTools: Check = async () => {
  const missing = ["node", "git"].filter((t) => !onPath(t));
  if (missing.length > 0)
    return { status: "fail", message: `missing on PATH: ${missing.join(", ")}` };
  if (!onPath("gh"))
    return { status: "warn", message: "node, git found; gh missing (GitHub CLI features off)" };
  return { status: "ok", message: "node, git, gh found" };
};

/** True when an executable of that name is on PATH (a lookup, not a spawn, to stay fast). */
export function onPath(tool: string, path = process.env.PATH ?? ""): boolean {
  return path.split(delimiter).some((dir) => !!dir && isExecutableFile(join(dir, tool)));
}

/**
 * git answers with its version; no configured user is a warning. Both answers come from files where they
 * are git's own (see gitinfo.ts): a recorded `git --version` of the same binary, the config files; else git is run.
 */
export const checkGit: Check = async (env) => {
  const cache = join(dirname(env.stateFile), "git-version.json");
  const [version, user] = await Promise.all([
    gitVersion(cache, env.checkTimeoutMs, run),
    userFromFiles()
      ? { code: 0, out: "user.name\nuser.email\n" }
      : run("git", ["config", "--get-regexp", "^user\\.(name|email)$"], env.checkTimeoutMs),
  ]);
  if (version.code !== 0)
    return {
      status: "fail",
      message: `git --version failed: ${version.out.trim() || `exit ${version.code}`}`,
    };
  const v = /\d+\.\d+(\.\d+)?/.exec(version.out)?.[0] ?? version.out.trim();
  const keys = new Set(user.out.split("\n").map((l) => l.split(" ")[0]));
  if (!keys.has("user.name") || !keys.has("user.email")) {
    return {
      status: "warn",
      message: `git ${v}; user.name/user.email not configured (set GIT_USER_NAME, GIT_USER_EMAIL)`,
    };
  }
  return { status: "ok", message: `git ${v}; user configured` };
};

/** Runs a command without a shell; resolves with its exit code (-1 when it could not start or was killed) and output. */
async function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number; out: string }> {
  const { execFile } = await import("node:child_process");
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}` || (err?.message ?? "") });
    });
  });
}

/** Each service in the state file is alive (same process, not a zombie) and its port accepts TCP on 127.0.0.1. */
export const checkServices: Check = async (env) => {
  const state = readState(env.stateFile);
  if (state instanceof Error) return { status: "fail", message: state.message };
  if (!state || state.services.length === 0)
    return { status: "ok", message: "no services recorded" };
  const sockets = state.services.some((s) => s.port !== undefined) ? tcpListeners() : undefined;
  const problems = await Promise.all(
    state.services.map((s) => serviceProblem(s, env.checkTimeoutMs, sockets)),
  );
  const bad = problems.filter((p): p is string => !!p);
  if (bad.length > 0) return { status: "fail", message: bad.join("; ") };
  return {
    status: "ok",
    message: state.services
      .map((s) => `${s.name} pid ${s.pid}${s.port ? ` :${s.port}` : ""}`)
      .join(", "),
  };
};

/** What is wrong with one recorded service, or undefined; `sockets` is /proc/net/tcp when it could be read. */
async function serviceProblem(
  s: ServiceRecord,
  timeoutMs: number,
  sockets?: string,
): Promise<string | undefined> {
  if (!pidAlive(s.pid)) return `${s.name} (pid ${s.pid}) is not running`;
  const st = procStat(s.pid);
  if (st?.state === "Z") return `${s.name} (pid ${s.pid}) has exited (zombie)`;
  if (st && s.startTicks !== undefined && st.startTicks !== s.startTicks)
    return `${s.name} (pid ${s.pid}) is not running (PID reused)`;
  if (s.port === undefined) return undefined;
  const host = !s.host || s.host === "0.0.0.0" || s.host === "::" ? "127.0.0.1" : s.host;
  if (sockets && acceptsFromTable(sockets, host, s.port)) return undefined;
  const err = await tcpProbe(host, s.port, timeoutMs);
  return err ? `${s.name} port ${host}:${s.port} ${err}` : undefined;
}

/** True when a process with this PID exists (EPERM means it exists but is not ours). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One read of /proc/net/tcp gets this much; a longer listener section is not read, the ports are dialled. */
const TCP_TABLE_READ = 64 * 1024;

/**
 * The listening sockets of the kernel's IPv4 TCP table (/proc/net/tcp, this network namespace): its header and
 * the LISTEN lines the kernel prints first. One read, stopped at the first other line: reading the table to its
 * end walks the whole connection hash (5 ms of CPU on a host with 262,144 buckets, as much as a connect).
 * Undefined when it cannot be read, or the listeners do not fit in one read.
 */
export function tcpListeners(file = "/proc/net/tcp"): string | undefined {
  let fd: number | undefined;
  try {
    fd = openSync(file, "r");
    const buf = Buffer.alloc(TCP_TABLE_READ);
    const n = readSync(fd, buf, 0, buf.length, null);
    const [header = "", ...lines] = buf.toString("latin1", 0, n).split("\n");
    const listeners = [header];
    for (const line of lines) {
      const state = line.trim().split(/\s+/)[3];
      // Past the listeners: what follows are connections.
      if (state !== undefined && state !== "0A") return listeners.join("\n");
      if (state !== undefined) listeners.push(line);
    }
    // A short read is the end of the table; a full one may have cut the listeners.
    return n < buf.length ? listeners.join("\n") : undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * True when the table shows what makes the kernel complete a connect to host:port: a socket in LISTEN on that
 * IPv4 address or 0.0.0.0 with no connection waiting to be accepted (so its accept queue cannot be full). A TCP
 * connect would succeed too, without loading node:net and its streams. Anything else (no such line, a backlog, an
 * IPv6 or dual-stack listener, a host name) is left to a real connect, whose message the check reports.
 */
export function acceptsFromTable(table: string, host: string, port: number): boolean {
  const ip = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (!ip || !Number.isInteger(port) || port < 1 || port > 65_535) return false;
  const hex = (n: number, width: number) => n.toString(16).toUpperCase().padStart(width, "0");
  const p = hex(port, 4);
  // /proc/net/tcp prints an address as its 32-bit word in host byte order: 127.0.0.1 is 0100007F here.
  const octets = [ip[1], ip[2], ip[3], ip[4]].map(Number);
  const word = (littleEndian ? octets.reverse() : octets).map((o) => hex(o, 2)).join("");
  const wanted = new Set([`${word}:${p}`, `00000000:${p}`]);
  for (const line of table.split("\n")) {
    // sl local_address rem_address st tx_queue:rx_queue ...; for a listener rx_queue is its accept backlog.
    const f = line.trim().split(/\s+/);
    if (f[3] === "0A" && wanted.has(f[1] ?? "") && /^[0-9A-F]{8}:0{8}$/.test(f[4] ?? ""))
      return true;
  }
  return false;
}

/** Byte order of this machine, for reading /proc/net/tcp. */
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Opens and closes a TCP connection; resolves undefined on success, else the reason. */
export async function tcpProbe(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<string | undefined> {
  const { connect } = await import("node:net");
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    /** Settles once, closing the socket. */
    const done = (why: string | undefined) => {
      sock.destroy();
      resolve(why);
    };
    sock.setTimeout(timeoutMs, () => done(`no answer within ${timeoutMs} ms`));
    sock.once("connect", () => done(undefined));
    sock.once("error", (e) => done(`refused (${(e as NodeJS.ErrnoException).code ?? e.message})`));
  });
}

/** The checks in report order. */
export const CHECKS: Record<string, Check> = {
  filesystem: checkFilesystem,
  tools: checkTools,
  git: checkGit,
  services: checkServices,
};

/** Runs checks concurrently, each bounded by HEALTH_CHECK_TIMEOUT: a hung or throwing check fails alone. */
export async function runChecks(
  env: RuntimeEnv,
  checks: Record<string, Check> = CHECKS,
): Promise<HealthReport> {
  const results = await Promise.all(
    Object.entries(checks).map(async ([name, check]): Promise<CheckResult> => {
      const t0 = now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<Pick<CheckResult, "status" | "message">>((resolve) => {
        timer = setTimeout(
          () => resolve({ status: "fail", message: `timed out after ${env.checkTimeoutMs} ms` }),
          env.checkTimeoutMs,
        );
      });
      const outcome = await Promise.race([
        check(env).catch((e: unknown) => ({ status: "fail" as const, message: errText(e) })),
        timeout,
      ]);
      clearTimeout(timer);
      return { name, ...outcome, ms: Math.round(now() - t0) };
    }),
  );
  return { healthy: results.every((r) => r.status !== "fail"), checks: results };
}

/** One line per check, for humans and `docker inspect`. */
export function formatReport(report: HealthReport): string {
  const lines = report.checks.map(
    (c) => `${c.status.padEnd(4)} ${c.name.padEnd(10)} ${c.message} (${c.ms} ms)`,
  );
  lines.push(
    report.healthy
      ? "healthy"
      : `unhealthy: ${report.checks
          .filter((c) => c.status === "fail")
          .map((c) => c.name)
          .join(", ")}`,
  );
  return `${lines.join("\n")}\n`;
}

/** Short text of an error: its code and message. */
function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
