/** Child-process supervision: forward stop signals, stop everyone when one child exits, propagate its exit code. */
import { type ChildProcess, type StdioOptions, spawn } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { constants } from "node:os";
import type { Logger } from "./log.js";
import { procStat } from "./state.js";

/** A child to run. */
export interface ServiceSpec {
  name: string;
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  stdio?: StdioOptions;
  /** Port it listens on, for the state file. */
  port?: number;
  host?: string;
  /**
   * The command is a `sh -c` wrapper around the real service: SIGHUP ("reload") goes to the service, not to the
   * shell, which would die of it, as long as the shell has not exec'd the service itself.
   */
  shellWrapper?: boolean;
}

/** A started child. */
export interface Running {
  spec: ServiceSpec;
  pid: number;
}

/** How to supervise. */
export interface SuperviseOptions {
  stopTimeoutMs: number;
  log: Logger;
  /**
   * Interactive children (a shell) share our process group and terminal: the terminal already delivers
   * Ctrl-C to them, so SIGINT is not forwarded; services get their own process group instead.
   */
  interactive?: boolean;
  /** Called once all children are spawned, with their PIDs. */
  onStarted?: (children: Running[]) => void;
}

/** Exit code of a process that ended with (code, signal), shell-style: 128 + signal number. */
export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

/**
 * Runs the children until one exits or a stop signal arrives, then stops the rest
 * (their signal, then SIGKILL after stopTimeoutMs). Resolves with the exit code to use:
 * the first exiting child's code, or 128 + signal when we were asked to stop.
 */
export function supervise(specs: ServiceSpec[], opts: SuperviseOptions): Promise<number> {
  const { log } = opts;
  return new Promise((resolve) => {
    const children: { spec: ServiceSpec; proc: ChildProcess; left: boolean; exited: boolean }[] =
      [];
    let killedAt: number | undefined;
    let result: number | undefined;
    let killTimer: NodeJS.Timeout | undefined;
    let stopping = false;

    /** Signals a child's whole process group (services), or just the child (interactive). */
    const signal = (c: (typeof children)[number], sig: NodeJS.Signals) => {
      const pid = c.proc.pid;
      if (pid === undefined) return;
      if (opts.interactive) return kill(pid, sig);
      // A service leads its own group: signalling the group also reaches anything it spawned.
      if (sig === "SIGHUP" && c.spec.shellWrapper && stillRuns(pid, c.spec.command)) {
        for (const m of groupMembers(pid) ?? []) if (m !== pid) kill(m, sig);
        return;
      }
      kill(-pid, sig);
      // sh starts background jobs with SIGINT ignored: they would outlive a Ctrl-C until the SIGKILL
      // deadline. They get SIGTERM, the stop signal they do obey.
      if (sig === "SIGINT")
        for (const m of groupMembers(pid) ?? []) if (ignores(m, sig)) kill(m, "SIGTERM");
    };

    /** Asks every child to stop, and arms the SIGKILL deadline. */
    const stopAll = (sig: NodeJS.Signals, why: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`stopping children (${why})`, { signal: sig, timeoutMs: opts.stopTimeoutMs });
      // Exited services too: their group may still hold orphans of theirs.
      for (const c of children) if (!c.exited || !opts.interactive) signal(c, sig);
      killTimer = setTimeout(() => {
        killedAt = Date.now();
        for (const c of children) {
          if (c.exited) continue;
          log.warn(`${c.spec.name} still running after ${opts.stopTimeoutMs} ms: SIGKILL`, {
            pid: c.proc.pid,
          });
          signal(c, "SIGKILL");
        }
      }, opts.stopTimeoutMs);
    };

    /** Resolves once every child has exited. */
    const maybeDone = () => {
      if (!children.every((c) => c.exited)) return;
      clearTimeout(killTimer);
      for (const s of FORWARDED) process.removeListener(s, onSignal);
      resolve(result ?? 0);
    };

    /** Handles a signal sent to us: pass HUP through, stop on TERM/INT, SIGKILL on the second one. */
    const onSignal = (sig: NodeJS.Signals) => {
      if (sig === "SIGHUP" || (sig === "SIGINT" && opts.interactive)) {
        // HUP means "reload" to many servers; interactive children got SIGINT from the terminal.
        if (sig === "SIGHUP") for (const c of children) if (!c.exited) signal(c, sig);
        return;
      }
      if (stopping) {
        // A second Ctrl-C or TERM: stop waiting.
        log.warn(`${sig} again: SIGKILL`);
        for (const c of children) if (!c.exited) signal(c, "SIGKILL");
        return;
      }
      result ??= exitCodeOf(null, sig);
      stopAll(sig, `${sig} received`);
    };
    for (const s of FORWARDED) process.on(s, onSignal);

    for (const spec of specs) {
      const proc = spawn(spec.command, spec.args, {
        env: spec.env ?? process.env,
        stdio: spec.stdio ?? "inherit",
        detached: !opts.interactive,
      });
      const c = { spec, proc, left: false, exited: false };
      children.push(c);
      proc.once("error", (e: NodeJS.ErrnoException) => {
        if (c.left) return;
        log.error(`${spec.name} could not start: ${e.code ?? e.message}`, {
          command: spec.command,
        });
        onExit(c, e.code === "ENOENT" ? 127 : 126);
      });
      proc.once("exit", (code, sig) => onExit(c, exitCodeOf(code, sig)));
    }

    /** Records a child's exit; the first unrequested exit decides the code and stops the others. */
    function onExit(c: (typeof children)[number], code: number) {
      if (c.left) return;
      c.left = true;
      // Only an unrequested, failing exit is news; 0 is a normal end, and during a stop every exit is expected.
      log[!stopping && code !== 0 ? "warn" : "info"](`${c.spec.name} exited with ${code}`, {
        pid: c.proc.pid,
        code,
      });
      if (!stopping) {
        result ??= code;
        stopAll("SIGTERM", `${c.spec.name} exited`);
      }
      // A service is done when its whole process group is (a shell wrapper may exit before its server).
      const pid = c.proc.pid;
      /** Marks the child gone for good. */
      const finish = () => {
        c.exited = true;
        maybeDone();
      };
      if (opts.interactive || pid === undefined) finish();
      else
        void waitGroupGone(
          pid,
          () => killedAt !== undefined && Date.now() - killedAt > KILL_GRACE_MS,
        ).then(finish);
    }

    const started = children
      .filter((c) => c.proc.pid !== undefined)
      .map((c) => ({ spec: c.spec, pid: c.proc.pid as number }));
    for (const r of started) log.info(`started ${r.spec.name}`, { pid: r.pid, port: r.spec.port });
    opts.onStarted?.(started);
  });
}

/** Sends a signal, ignoring a process (or group) that is already gone. */
function kill(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** True when the process ignores the signal (SigIgn in /proc/<pid>/status); false when it cannot be told. */
export function ignores(pid: number, sig: NodeJS.Signals): boolean {
  const n = constants.signals[sig];
  try {
    const m = /^SigIgn:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return !!m?.[1] && ((BigInt(`0x${m[1]}`) >> BigInt(n - 1)) & 1n) === 1n;
  } catch {
    return false;
  }
}

/** True while the process still runs `command` (it has not exec'd something else); true when it cannot be told. */
function stillRuns(pid: number, command: string): boolean {
  try {
    return readlinkSync(`/proc/${pid}/exe`) === realpathSync(command);
  } catch {
    return true;
  }
}

/** After SIGKILL, how long to wait for a group to vanish (its zombies may wait for a reaper). */
const KILL_GRACE_MS = 1000;

/**
 * Resolves once no live process is left in the group (or `giveUp` says so). Polls after 2, 5 and 10 ms, then every
 * 20 ms: a `sh -c` wrapper dies of the stop signal at once while its server is still closing, usually within a few
 * ms. While a member seen before still lives, a poll reads only its /proc entry; the whole of /proc (several ms
 * of CPU on a busy host) is scanned only to find the group's other members or confirm that none is left.
 */
async function waitGroupGone(pgid: number, giveUp: () => boolean): Promise<void> {
  let known: number[] = [];
  for (let i = 0; !giveUp(); i++) {
    if (!known.some((pid) => liveMember(pid, pgid))) {
      try {
        process.kill(-pgid, 0);
      } catch {
        return;
      }
      const members = groupMembers(pgid);
      // No /proc: the kill() above is all there is to go by.
      if (members?.length === 0) return;
      known = members ?? [];
    }
    await new Promise((r) => setTimeout(r, POLL_MS[i] ?? 20));
  }
}

/** The first waits of waitGroupGone, in ms. */
const POLL_MS = [2, 5, 10];

/** True while the process lives (not a zombie) and is still in the group. */
function liveMember(pid: number, pgid: number): boolean {
  const st = procStat(pid);
  return st !== undefined && st.pgrp === pgid && st.state !== "Z";
}

/** True while the group has a member that is not a zombie (zombies wait for a reaper we do not control). */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  const members = groupMembers(pgid);
  // No /proc (members unknown): trust kill().
  return members === undefined || members.length > 0;
}

/** PIDs of the live (non-zombie) members of a process group, from /proc; undefined without /proc. */
export function groupMembers(pgid: number): number[] | undefined {
  let pids: string[];
  try {
    pids = readdirSync("/proc").filter((n) => /^\d+$/.test(n));
  } catch {
    return undefined;
  }
  return pids.map(Number).filter((p) => {
    const st = procStat(p);
    return st !== undefined && st.pgrp === pgid && st.state !== "Z";
  });
}

/** Signals the supervisor handles: TERM and INT stop, HUP is passed through. */
const FORWARDED: NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];
