/** Runtime environment: reads, validates and defaults the variables of docs/runtime.md (no zx: the healthcheck imports it). */
import { join, resolve } from "node:path";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The validated runtime configuration, with defaults applied and paths made absolute. */
export interface RuntimeEnv {
  home: string;
  sessionsRoot: string;
  gitStateDir: string;
  queueDir: string;
  stateFile: string;
  dataDir: string;
  logDir: string;
  logLevel: LogLevel;
  maxConcurrent: number;
  mcpPort: number;
  metricsPort: number;
  metricsHost: string;
  mcpCommand: string | undefined;
  mcpLog: string;
  stopTimeoutMs: number;
  minFreeBytes: number;
  checkTimeoutMs: number;
  environment: string;
  gitUserName: string | undefined;
  gitUserEmail: string | undefined;
  /** Which clients of the exporter's /ready get the checks' messages (the status code and check names go to all). */
  readyDetails: ReadyDetails;
}

export const READY_DETAILS = ["loopback", "all", "none"] as const;
export type ReadyDetails = (typeof READY_DETAILS)[number];

/** Either the configuration and the defaults it filled in, or every problem found. */
export type EnvResult =
  | { ok: true; env: RuntimeEnv; defaults: Record<string, string> }
  | { ok: false; errors: string[] };

/** Defaults of the optional variables; the image sets the two required ones. */
export const DEFAULTS = {
  CODEX_DATA_DIR: "/app/data",
  CODEX_LOG_DIR: "/app/logs",
  CODEX_LOG_LEVEL: "info",
  CODEX_MAX_CONCURRENT: "10",
  MCP_SERVER_PORT: "3000",
  CODEX_METRICS_PORT: "9090",
  CODEX_METRICS_HOST: "0.0.0.0",
  CODEX_STOP_TIMEOUT: "10",
  CODEX_MIN_FREE_BYTES: "1073741824",
  HEALTH_CHECK_TIMEOUT: "5",
  CODEX_ENVIRONMENT: "development",
  CODEX_READY_DETAILS: "loopback",
} as const;

/** Reads and validates the runtime variables, listing every problem at once. */
export function parseEnv(source: NodeJS.ProcessEnv): EnvResult {
  const errors: string[] = [];
  const defaults: Record<string, string> = {};

  /** Value of a variable, or its default (remembered so the caller can export it). */
  const get = (name: keyof typeof DEFAULTS): string => {
    const v = source[name];
    if (v !== undefined && v !== "") return v;
    defaults[name] = DEFAULTS[name];
    return DEFAULTS[name];
  };
  /** A required, non-empty path. */
  const required = (name: string): string => {
    const v = source[name];
    if (v === undefined || v.trim() === "") {
      errors.push(`${name}: required but not set`);
      return "";
    }
    return resolve(v);
  };
  /** An integer within [min, max]. */
  const int = (name: keyof typeof DEFAULTS, min: number, max: number): number => {
    const raw = get(name);
    const n = Number(raw);
    if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
      errors.push(`${name}: must be an integer from ${min} to ${max}, got "${raw}"`);
      return Number.NaN;
    }
    return n;
  };
  /** A number of seconds, at least 1 ms (less would round to 0 ms: no timeout at all), returned in milliseconds. */
  const seconds = (name: keyof typeof DEFAULTS, max: number): number => {
    const raw = get(name);
    const n = Number(raw);
    if (!/^\s*\d+(\.\d+)?\s*$/.test(raw) || n < 0.001 || n > max) {
      errors.push(`${name}: must be a number of seconds from 0.001 to ${max}, got "${raw}"`);
    }
    return Math.round(n * 1000);
  };

  const home = required("CODEX_HOME");
  const sessionsRoot = required("CODEX_SESSIONS_ROOT");
  const logLevel = get("CODEX_LOG_LEVEL");
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    errors.push(`CODEX_LOG_LEVEL: must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`);
  }
  const maxConcurrent = int("CODEX_MAX_CONCURRENT", 1, 10_000);
  const mcpPort = int("MCP_SERVER_PORT", 1, 65_535);
  const metricsPort = int("CODEX_METRICS_PORT", 1, 65_535);
  const rawHost = get("CODEX_METRICS_HOST");
  const metricsHost = rawHost.trim();
  if (!isBindHost(metricsHost))
    errors.push(
      `CODEX_METRICS_HOST: must be an IP address or a host name (such as 0.0.0.0, ::1 or localhost), got ${JSON.stringify(rawHost)}`,
    );
  const stopTimeoutMs = seconds("CODEX_STOP_TIMEOUT", 3600);
  const minFreeBytes = int("CODEX_MIN_FREE_BYTES", 0, Number.MAX_SAFE_INTEGER);
  const checkTimeoutMs = seconds("HEALTH_CHECK_TIMEOUT", 300);
  const mcpCommand = source.CODEX_MCP_COMMAND?.trim() || undefined;
  // The exporter and the MCP server both bind 127.0.0.1-reachable ports: they cannot share one.
  if (mcpCommand && mcpPort === metricsPort) {
    errors.push(`CODEX_METRICS_PORT: must differ from MCP_SERVER_PORT (both are ${mcpPort})`);
  }
  const dataDir = resolve(get("CODEX_DATA_DIR"));
  const logDir = resolve(get("CODEX_LOG_DIR"));
  const mcpLog = source.CODEX_MCP_LOG
    ? resolve(source.CODEX_MCP_LOG)
    : join(logDir, "mcp-server.log");
  const readyDetails = get("CODEX_READY_DETAILS");
  if (!(READY_DETAILS as readonly string[]).includes(readyDetails)) {
    errors.push(
      `CODEX_READY_DETAILS: must be one of ${READY_DETAILS.join(", ")}, got "${readyDetails}"`,
    );
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    defaults,
    env: {
      home,
      sessionsRoot,
      gitStateDir: join(home, "git-state"),
      queueDir: join(home, "queue"),
      stateFile: join(home, "run", "services.json"),
      dataDir,
      logDir,
      logLevel: logLevel as LogLevel,
      maxConcurrent,
      mcpPort,
      metricsPort,
      metricsHost,
      mcpCommand,
      mcpLog,
      stopTimeoutMs,
      minFreeBytes,
      checkTimeoutMs,
      environment: get("CODEX_ENVIRONMENT"),
      gitUserName: source.GIT_USER_NAME || undefined,
      gitUserEmail: source.GIT_USER_EMAIL || undefined,
      readyDetails: readyDetails as ReadyDetails,
    },
  };
}

/**
 * An address to bind to: an IPv4/IPv6 literal (no brackets, no port) or a host name of letters, digits, `-` and
 * `_` in dot-separated labels. Blank is not one: Node would bind every interface. Syntax only, no DNS lookup.
 */
export function isBindHost(host: string): boolean {
  // node:net (isIP) only for what may be IPv6: the healthcheck does not load net otherwise.
  if (host.includes(":")) return process.getBuiltinModule("node:net").isIP(host) === 6;
  if (/^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/.test(host))
    return true;
  if (host.length > 253 || /^[\d.]+$/.test(host)) return false;
  return /^[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/.test(
    host,
  );
}

/** The directories the entrypoint creates and the healthcheck requires, in that order. */
export function requiredDirs(env: RuntimeEnv): string[] {
  return [env.home, env.sessionsRoot, env.gitStateDir, env.queueDir, env.dataDir, env.logDir];
}
