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
    // Redact before encoding: JSON escapes `"`, `\` and control characters, so a token containing
    // one would no longer match in the encoded line.
    const record = redact(
      { time: new Date().toISOString(), level, component, message, ...fields },
      secrets,
    );
    const line = `${JSON.stringify(record)}\n`;
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

/** A copy of a value with every secret replaced by "***" in its strings and object keys, at any depth. */
export function redact(value: unknown, secrets: readonly string[]): unknown {
  if (secrets.length === 0) return value;
  const text = (s: string) => secrets.reduce((acc, sec) => acc.split(sec).join("***"), s);
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === "string") return text(v);
    if (typeof v !== "object" || v === null) return v;
    // Fields are shallow; a cycle or a deep structure is cut rather than walked (or leaked) forever.
    if (depth > 20) return "[too deep]";
    if (Array.isArray(v)) return v.map((x) => walk(x, depth + 1));
    // Errors and other classes keep their JSON form (toJSON or own fields); plain fields are walked.
    const json = (v as { toJSON?: () => unknown }).toJSON;
    if (typeof json === "function") return walk(json.call(v), depth + 1);
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>).map(([k, x]) => [text(k), walk(x, depth + 1)]),
    );
  };
  return walk(value, 0);
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
