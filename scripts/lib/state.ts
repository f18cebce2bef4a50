/** The services state file: which children the entrypoint runs, written atomically, read by the healthcheck. */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

/** One supervised service as the healthcheck needs to see it. */
export interface ServiceRecord {
  name: string;
  pid: number;
  /** TCP port the service listens on, when it has one. */
  port?: number;
  /** Bind address; the healthcheck dials 127.0.0.1 for wildcard addresses. */
  host?: string;
  /** Kernel start time of the process (clock ticks since boot), to tell a reused PID apart. */
  startTicks?: number;
}

/** Content of `$CODEX_HOME/run/services.json`. */
export interface ServicesState {
  version: 1;
  mode: string;
  entrypointPid: number;
  updatedAt: string;
  services: ServiceRecord[];
}

/** Writes the state file atomically (temp file in the same directory, then rename). */
export function writeState(file: string, state: ServicesState): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  renameSync(tmp, file);
}

/** Removes the state file; a missing one is fine. */
export function removeState(file: string): void {
  rmSync(file, { force: true });
}

/** Reads the state file: undefined when absent, an Error when unreadable or malformed. */
export function readState(file: string): ServicesState | undefined | Error {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    return new Error(`${file}: ${(e as Error).message}`);
  }
  try {
    const s = JSON.parse(text) as ServicesState;
    if (
      !Array.isArray(s.services) ||
      !s.services.every((x) => Number.isInteger(x.pid) && x.pid > 0)
    ) {
      return new Error(`${file}: no valid "services" list`);
    }
    return s;
  } catch (e) {
    return new Error(`${file}: corrupt JSON (${(e as Error).message})`);
  }
}

/** Process facts from /proc/<pid>/stat: state letter, process group and start time, or undefined when it is gone. */
export function procStat(
  pid: number | string,
): { state: string; pgrp: number; startTicks: number } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name is in parentheses and may contain spaces: split after the last ")".
    const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
    return { state: rest[0] ?? "?", pgrp: Number(rest[2]), startTicks: Number(rest[19]) };
  } catch {
    return undefined;
  }
}
