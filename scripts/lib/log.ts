/** JSON-line logger: one object per line (time, level, component, message) on stdout, optionally appended to a file. */
import { appendFileSync } from "node:fs";
import { LOG_LEVELS, type LogLevel } from "./env.js";

/** Extra structured fields of a log line. */
export type Fields = Record<string, unknown>;

/** A logger bound to one component. */
export interface Logger {
  debug(message: string, fields?: Fields): void;
  info(message: string, fields?: Fields): void;
  warn(message: string, fields?: Fields): void;
  error(message: string, fields?: Fields): void;
  /** Also append every line to this file from now on. */
  toFile(path: string): void;
}

/** Options of createLogger. */
export interface LoggerOptions {
  level?: LogLevel;
  /** Where lines go; stdout by default. */
  write?: (line: string) => void;
  /** Values that must never appear in a line (tokens): replaced by "***". */
  secrets?: (string | undefined)[];
}

/** Builds a logger for one component. */
export function createLogger(component: string, opts: LoggerOptions = {}): Logger {
  const min = LOG_LEVELS.indexOf(opts.level ?? "info");
  const write = opts.write ?? ((line: string) => process.stdout.write(line));
  // Short values would redact half the log by accident; real tokens are long.
  const secrets = (opts.secrets ?? []).filter((s): s is string => !!s && s.length >= 6);
  let file: string | undefined;

  /** Formats, redacts and emits one line. */
  const emit = (level: LogLevel, message: string, fields?: Fields): void => {
    if (LOG_LEVELS.indexOf(level) < min) return;
    let line = JSON.stringify({
      time: new Date().toISOString(),
      level,
      component,
      message,
      ...fields,
    });
    for (const s of secrets) line = line.split(s).join("***");
    line += "\n";
    write(line);
    if (file) {
      try {
        appendFileSync(file, line);
      } catch {
        // A full or read-only log volume must not take the supervisor down; stdout still has the line.
        file = undefined;
      }
    }
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    toFile: (path) => {
      file = path;
    },
  };
}

/** Parses one JSON log line back into an object, or undefined when it is not one (for tests and tools). */
export function parseLogLine(
  line: string,
): (Fields & { time: string; level: LogLevel; component: string; message: string }) | undefined {
  try {
    const o = JSON.parse(line) as Record<string, unknown>;
    if (
      typeof o.time !== "string" ||
      typeof o.level !== "string" ||
      typeof o.component !== "string" ||
      typeof o.message !== "string"
    )
      return undefined;
    return o as Fields & { time: string; level: LogLevel; component: string; message: string };
  } catch {
    return undefined;
  }
}
