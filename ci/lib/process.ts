/**
 * The one way `ci/` runs a process: zx's `$`, quiet, with its outcome as data instead of a throw; and, for
 * the few processes that must outlive the pipeline (a daemon, a reaper), a detached spawn.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { $, type ProcessPromise } from "zx";
import { lineSplitter } from "./log.js";

/** How a process ended. `exitCode` is -1 when it could not start or was killed. */
export interface Ran {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ProcessOptions {
  /** Added to the inherited environment. */
  env?: Record<string, string | undefined>;
  /** Replaces the inherited environment (the doctor probes with an env of its own). */
  baseEnv?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Killed with SIGINT after this long (a docker client then cleans up after itself). */
  timeoutMs?: number;
  input?: string;
  signal?: AbortSignal;
  /** Each line of stdout and stderr, as it comes. */
  onLine?: (line: string) => void;
  /**
   * Its own process group, so a Ctrl-C at the terminal reaches only this process's parent, which then
   * stops its children in order (the Docker engine's clients) instead of all of them dying at once.
   */
  detached?: boolean;
}

/** Starts `args` (binary first, no shell); the promise settles with the output and never rejects. */
export function start(args: string[], opts: ProcessOptions = {}): ProcessPromise {
  const p = $({
    quiet: true,
    nothrow: true,
    env: { ...(opts.baseEnv ?? $.env), ...opts.env },
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    ...(opts.detached ? { detached: true } : {}),
  })`${args}`;
  if (opts.detached) groups.add(p);
  // Not zx's `timeout`: it stops the process through `$.kill`, which runs `ps` (see kill below).
  if (opts.timeoutMs) {
    const timer = setTimeout(() => kill(p, "SIGINT"), opts.timeoutMs);
    p.finally(() => clearTimeout(timer)).catch(() => {});
  }
  if (opts.onLine) {
    const out = lineSplitter(opts.onLine);
    const err = lineSplitter(opts.onLine);
    p.stdout.on("data", (d: Buffer) => out.push(d.toString()));
    p.stderr.on("data", (d: Buffer) => err.push(d.toString()));
    p.finally(() => {
      out.flush();
      err.flush();
    }).catch(() => {});
  }
  return p;
}

const groups = new WeakSet<ProcessPromise>();

/**
 * Sends `signal` to a process `start` began: to its whole group when it is detached (its own group leader),
 * else to it alone; a process already gone is no error. Not zx's `kill`, which lists the process tree with `ps`:
 * slim images (node:*-slim, where the e2e cell runs the pipeline) have no `ps`, zx's parser then throws on the
 * empty listing inside a callback, and the pipeline died on Ctrl-C with exit 1 and its containers left behind.
 */
export function kill(p: ProcessPromise, signal: NodeJS.Signals): void {
  const child = p.child;
  // Ended: its pid may already be someone else's.
  if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(groups.has(p) ? -child.pid : child.pid, signal);
  } catch {
    // Already gone.
  }
}

/** Runs `args` to the end. A missing binary is exit code 127, as in a shell. */
export async function exec(args: string[], opts: ProcessOptions = {}): Promise<Ran> {
  try {
    const r = await start(args, opts);
    return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    return { exitCode: err.code === "ENOENT" ? 127 : -1, stdout: "", stderr: err.message };
  }
}

/** Runs `args`; throws naming the command and its last output lines when it exits non-zero. */
export async function mustExec(args: string[], opts: ProcessOptions = {}): Promise<string> {
  const r = await exec(args, opts);
  if (r.exitCode !== 0) throw new ProcessFailed(args, r);
  return r.stdout;
}

/** A command that exited non-zero: names it and keeps its last lines of output. */
export class ProcessFailed extends Error {
  override name = "ProcessFailed";
  constructor(
    readonly args: string[],
    readonly result: Ran,
  ) {
    const out = (result.stderr || result.stdout).trim().split("\n").slice(-5).join(" | ");
    super(`\`${args.join(" ")}\` exited ${result.exitCode}${out ? `: ${out}` : ""}`);
  }
}

/**
 * Starts `args` in a session of its own, with no tie to this process (not waited for, not killed with it,
 * not reached by the terminal's Ctrl-C); its output goes to `logFile`, or nowhere.
 */
export function spawnDetached(
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; logFile?: string } = {},
): ChildProcess {
  const [bin, ...rest] = args;
  const out = opts.logFile ? openSync(opts.logFile, "a") : "ignore";
  try {
    const child = spawn(bin as string, rest, {
      detached: true,
      stdio: ["ignore", out, out],
      ...(opts.env ? { env: opts.env } : {}),
    });
    child.on("error", () => {});
    child.unref();
    return child;
  } finally {
    if (typeof out === "number") closeSync(out);
  }
}
