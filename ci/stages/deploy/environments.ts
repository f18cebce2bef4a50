/**
 * Deploy environments (`deploy --env <name>`): compose override files under
 * `docker/environments/<name>.yaml` carrying the design's log level, max concurrency and
 * resources (design 3.3.2). Loaded and checked before compose sees them, so an unknown name or
 * a bad value is an error naming the file, line and key.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { isMap, isScalar, LineCounter, parseDocument, type YAMLMap } from "yaml";

/** The environments of the design. */
export const ENVIRONMENTS = ["development", "testing", "staging", "production"] as const;
export type EnvironmentName = (typeof ENVIRONMENTS)[number];

/** Where the override files live, relative to the repo root. */
export const ENVIRONMENTS_DIR = "docker/environments";

/** The app's settings in one environment, checked. */
export interface Environment {
  name: EnvironmentName;
  /** Repo-relative path of the compose override file. */
  file: string;
  logLevel: "debug" | "info" | "warn" | "error";
  maxConcurrent: number;
  /** CPU limit (compose `cpus`). */
  cpus: number;
  /** Memory limit and reservation in bytes (compose `mem_limit`, `mem_reservation`). */
  memLimit: number;
  memReservation: number;
}

const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
const APP_KEYS = ["environment", "cpus", "mem_limit", "mem_reservation"];
const ENV_KEYS = ["CODEX_ENVIRONMENT", "CODEX_LOG_LEVEL", "CODEX_MAX_CONCURRENT"];
/** Variable names that hold secrets; they must come from the caller's env or files, never the repo. */
const SECRET_NAME = /TOKEN|PASSWORD|PASSWD|SECRET|API_?KEY|PRIVATE|WEBHOOK/i;

/** Checks an environment name from the CLI. */
export function environmentName(name: string): EnvironmentName {
  if (!(ENVIRONMENTS as readonly string[]).includes(name))
    throw new Error(
      `--env: unknown environment "${name}"; expected one of ${ENVIRONMENTS.join(", ")}`,
    );
  return name as EnvironmentName;
}

/** Reads and checks `docker/environments/<name>.yaml` under `root`. */
export async function loadEnvironment(root: string, name: string): Promise<Environment> {
  const env = environmentName(name);
  const file = join(ENVIRONMENTS_DIR, `${env}.yaml`);
  let text: string;
  try {
    text = await readFile(join(root, file), "utf8");
  } catch {
    throw new Error(`${file}: missing; each of ${ENVIRONMENTS.join(", ")} needs an override file`);
  }
  return parseEnvironment(text, file, env);
}

/** Parses and checks the text of an environment file. */
export function parseEnvironment(text: string, file: string, env: EnvironmentName): Environment {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines });
  const at = (node: unknown): string => {
    const range = (node as { range?: [number, number, number] } | undefined)?.range;
    if (!range) return file;
    const p = lines.linePos(range[0]);
    return `${file}:${p.line}:${p.col}`;
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new Error(`${file}:${e?.linePos?.[0].line ?? "?"}: ${e?.message.split("\n")[0]}`);
  }
  const fail = (node: unknown, key: string, what: string): never => {
    throw new Error(`${at(node)}: ${key}: ${what}`);
  };
  const services = mapAt(doc.contents, "services", file, fail);
  for (const item of services.items)
    if (String((item.key as { value?: unknown }).value) !== "app")
      fail(
        item.key,
        `services.${String((item.key as { value?: unknown }).value)}`,
        "only services.app may be overridden per environment",
      );
  const app = mapAt(services, "app", file, fail, "services.");
  for (const item of app.items) {
    const k = String((item.key as { value?: unknown }).value);
    if (!APP_KEYS.includes(k))
      fail(item.key, `services.app.${k}`, `unknown key; expected ${APP_KEYS.join(", ")}`);
  }
  const vars = mapAt(app, "environment", file, fail, "services.app.");
  for (const item of vars.items) {
    const k = String((item.key as { value?: unknown }).value);
    if (SECRET_NAME.test(k))
      fail(
        item.key,
        `services.app.environment.${k}`,
        "secrets never live in the repo; pass them from the environment or a file",
      );
    if (!ENV_KEYS.includes(k))
      fail(
        item.key,
        `services.app.environment.${k}`,
        `unknown variable; expected ${ENV_KEYS.join(", ")}`,
      );
  }
  const scalar = (map: YAMLMap, key: string, prefix: string): { node: unknown; value: string } => {
    const node = map.get(key, true);
    if (!isScalar(node)) return fail(map, `${prefix}${key}`, "missing (expected a value)");
    return { node, value: String(node.value) };
  };
  const envName = scalar(vars, "CODEX_ENVIRONMENT", "services.app.environment.");
  if (envName.value !== env)
    fail(
      envName.node,
      "services.app.environment.CODEX_ENVIRONMENT",
      `is "${envName.value}", expected "${env}" (the file's name)`,
    );
  const level = scalar(vars, "CODEX_LOG_LEVEL", "services.app.environment.");
  if (!(LOG_LEVELS as readonly string[]).includes(level.value))
    fail(
      level.node,
      "services.app.environment.CODEX_LOG_LEVEL",
      `"${level.value}" is not one of ${LOG_LEVELS.join(", ")}`,
    );
  const conc = scalar(vars, "CODEX_MAX_CONCURRENT", "services.app.environment.");
  if (!/^[1-9]\d*$/.test(conc.value))
    fail(
      conc.node,
      "services.app.environment.CODEX_MAX_CONCURRENT",
      `"${conc.value}" is not a positive integer`,
    );
  const cpus = scalar(app, "cpus", "services.app.");
  const cpuCount = Number(cpus.value);
  if (!/^\d+(\.\d+)?$/.test(cpus.value) || cpuCount < 0.01)
    fail(
      cpus.node,
      "services.app.cpus",
      `"${cpus.value}" is not a CPU count (a number >= 0.01, e.g. 0.5)`,
    );
  const limit = scalar(app, "mem_limit", "services.app.");
  const reservation = scalar(app, "mem_reservation", "services.app.");
  const memLimit =
    parseBytes(limit.value) ??
    fail(limit.node, "services.app.mem_limit", `"${limit.value}" is not a size such as 512m or 1g`);
  const memReservation =
    parseBytes(reservation.value) ??
    fail(
      reservation.node,
      "services.app.mem_reservation",
      `"${reservation.value}" is not a size such as 128m or 1g`,
    );
  if (memReservation > memLimit)
    fail(
      reservation.node,
      "services.app.mem_reservation",
      `${reservation.value} is above mem_limit ${limit.value}`,
    );
  return {
    name: env,
    file,
    logLevel: level.value as Environment["logLevel"],
    maxConcurrent: Number(conc.value),
    cpus: cpuCount,
    memLimit,
    memReservation,
  };
}

/** Fails when the environment asks for more CPUs than the Docker host has (Docker would refuse). */
export function checkFitsHost(env: Environment, hostCpus: number): void {
  if (env.cpus > hostCpus)
    throw new Error(
      `${env.file}: services.app.cpus ${env.cpus} is more than the Docker host's ${hostCpus} CPUs; deploy "${env.name}" on a bigger host or lower cpus`,
    );
}

/** Compose's byte sizes: a number with an optional b, k, m or g suffix. */
export function parseBytes(v: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([bkmg])?$/i.exec(v.trim());
  if (!m) return undefined;
  const unit = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[(m[2] ?? "b").toLowerCase() as "b"];
  return Math.round(Number(m[1]) * unit);
}

/** The map under `key`, or an error naming it. */
function mapAt(
  parent: unknown,
  key: string,
  file: string,
  fail: (node: unknown, key: string, what: string) => never,
  prefix = "",
): YAMLMap {
  const node = isMap(parent) ? parent.get(key, true) : undefined;
  if (!isMap(node))
    return fail(
      isMap(parent) ? parent : undefined,
      `${prefix}${key}`,
      `missing or not a mapping in ${file}`,
    );
  return node;
}
