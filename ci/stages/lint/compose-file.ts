/**
 * Checks a compose file the way a reviewer would: every service has a healthcheck (or says why not in
 * `x-healthcheck-reason`), no published port binds to all interfaces unless asked, depends_on conditions
 * point at services that can become healthy, there is no obsolete `version:` key, and nothing bind-mounts a
 * relative host path (a volume, or a `secrets:`/`configs:` file): that path is on the caller's disk, which a
 * remote daemon does not have.
 *
 * Usage: npx tsx ci/stages/lint/compose-file.ts [--allow-public] [file ...]   (default docker/compose.yaml)
 * Variables are interpolated like compose does, from the environment. Exit 0 clean, 1 problems, 2 unreadable.
 */
import { readFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";

/** One problem, with where it is. */
export interface ComposeProblem {
  file: string;
  line: number;
  message: string;
}

/** Options of a check. */
export interface ComposeCheckOptions {
  /** Allow ports published on 0.0.0.0 / :: (or with no host address). */
  allowPublic?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Compose-style interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, $VAR and $$. */
export function interpolate(text: string, env: NodeJS.ProcessEnv): string {
  return text.replace(
    /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)/g,
    (m, name?: string, op?: string, def?: string, bare?: string) => {
      if (m === "$$") return "$";
      const key = name ?? bare ?? "";
      const value = env[key];
      if (op === ":-") return value ? value : (def ?? "");
      if (op === "-") return value ?? def ?? "";
      return value ?? "";
    },
  );
}

/** The host address of a short-syntax port ("127.0.0.1:8080:80", "8080:80", "[::1]:80:80"), "" when none. */
export function portHostIp(spec: string): string {
  const s = spec.replace(/\/(tcp|udp|sctp)$/, "");
  const v6 = /^\[([^\]]+)\]:/.exec(s);
  if (v6) return v6[1] ?? "";
  const parts = s.split(":");
  return parts.length === 3 ? (parts[0] ?? "") : "";
}

const PUBLIC = new Set(["", "0.0.0.0", "::", "[::]"]);

/** Checks one compose document's text; `file` is only used in messages. */
export function checkComposeText(
  text: string,
  file: string,
  opts: ComposeCheckOptions = {},
): ComposeProblem[] {
  const env = opts.env ?? process.env;
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc });
  const problems: ComposeProblem[] = [];
  const lineOf = (n: Node | null | undefined) => (n?.range ? lc.linePos(n.range[0]).line : 1);
  const add = (n: Node | null | undefined, message: string) =>
    problems.push({ file, line: lineOf(n), message });
  for (const e of doc.errors)
    problems.push({ file, line: e.linePos?.[0].line ?? 1, message: e.message });
  if (doc.errors.length > 0) return problems;

  const root = doc.contents;
  if (!isMap(root))
    return [{ file, line: 1, message: "not a compose file (top level is not a mapping)" }];
  if (root.has("version"))
    add(root.get("version", true) as Node, "`version:` is obsolete in the Compose spec; remove it");
  const services = root.get("services", true);
  if (!isMap(services)) return [...problems, { file, line: 1, message: "no `services:` mapping" }];

  const healthy = new Set<string>();
  for (const item of services.items) {
    const name = String(isScalar(item.key) ? item.key.value : item.key);
    const svc = item.value;
    if (!isMap(svc)) {
      add(item.key as Node, `service ${name}: not a mapping`);
      continue;
    }
    const hc = svc.get("healthcheck", true);
    const reason = svc.get("x-healthcheck-reason");
    const test = isMap(hc) ? hc.toJSON().test : undefined;
    const disabled =
      isMap(hc) && (hc.get("disable") === true || (Array.isArray(test) && test[0] === "NONE"));
    if (isMap(hc) && !disabled && test !== undefined) healthy.add(name);
    else if (typeof reason !== "string" || reason.trim() === "")
      add(
        (hc as Node) ?? (item.key as Node),
        `service ${name}: no healthcheck; add one, or say why in \`x-healthcheck-reason\``,
      );
    checkPorts(svc, name, opts.allowPublic ?? false, env, add);
    checkBindMounts(svc, name, env, add);
  }
  for (const top of ["secrets", "configs"]) {
    const section = root.get(top, true);
    if (!isMap(section)) continue;
    for (const item of section.items) {
      const file = isMap(item.value) ? item.value.get("file", true) : undefined;
      if (!isScalar(file)) continue;
      const path = interpolate(String(file.value), env);
      if (!path.startsWith("/"))
        add(
          file,
          `${top.slice(0, -1)} ${String(isScalar(item.key) ? item.key.value : item.key)}: file "${path}" ${CALLER_PATH}; pass it through the environment or bake it into an image`,
        );
    }
  }
  // depends_on conditions that can never be met.
  for (const item of services.items) {
    const name = String(isScalar(item.key) ? item.key.value : item.key);
    const deps = isMap(item.value) ? item.value.get("depends_on", true) : undefined;
    if (!isMap(deps)) continue;
    for (const dep of deps.items) {
      const target = String(isScalar(dep.key) ? dep.key.value : dep.key);
      const cond = isMap(dep.value) ? dep.value.get("condition") : undefined;
      if (!services.has(target))
        add(dep.key as Node, `service ${name}: depends_on unknown service ${target}`);
      else if (cond === "service_healthy" && !healthy.has(target))
        add(
          dep.key as Node,
          `service ${name}: waits for ${target} to be healthy, but ${target} has no healthcheck`,
        );
    }
  }
  return problems;
}

/** Flags published ports that bind to every interface. */
function checkPorts(
  svc: YAMLMap,
  name: string,
  allowPublic: boolean,
  env: NodeJS.ProcessEnv,
  add: (n: Node | null | undefined, message: string) => void,
): void {
  const ports = svc.get("ports", true);
  if (!isSeq(ports) || allowPublic) return;
  for (const p of ports.items as Node[]) {
    let ip: string;
    let shown: string;
    if (isMap(p)) {
      ip = interpolate(String(p.get("host_ip") ?? ""), env);
      shown = `${ip || "(all interfaces)"}:${interpolate(String(p.get("published") ?? ""), env)}`;
      if (p.get("published") === undefined) continue; // not published on the host
    } else {
      const spec = interpolate(String(isScalar(p) ? p.value : p), env);
      ip = portHostIp(spec);
      shown = spec;
      if (!spec.includes(":")) {
        add(
          p,
          `service ${name}: port "${spec}" is published on all interfaces at a random port; bind it to 127.0.0.1`,
        );
        continue;
      }
    }
    if (PUBLIC.has(ip))
      add(
        p,
        `service ${name}: port "${shown}" binds to all interfaces; use 127.0.0.1 (or pass --allow-public)`,
      );
  }
}

const CALLER_PATH =
  "is a path on the caller's disk, bind-mounted by compose, which a remote daemon does not have";

/** True for a compose short-syntax volume source that is a relative host path ("./x", "../x", "~/x", "."). */
export function relativeHostPath(source: string): boolean {
  return source === "." || source === ".." || /^(\.{1,2}|~)\//.test(source) || source === "~";
}

/** Flags volumes that bind-mount a relative host path (short syntax `./x:/y`, or long syntax `type: bind`). */
function checkBindMounts(
  svc: YAMLMap,
  name: string,
  env: NodeJS.ProcessEnv,
  add: (n: Node | null | undefined, message: string) => void,
): void {
  const volumes = svc.get("volumes", true);
  if (!isSeq(volumes)) return;
  for (const v of volumes.items as Node[]) {
    let source: string;
    if (isMap(v)) {
      if (v.get("type") !== "bind") continue;
      source = interpolate(String(v.get("source") ?? ""), env);
    } else {
      const spec = interpolate(String(isScalar(v) ? v.value : v), env);
      source = spec.split(":")[0] ?? "";
    }
    if (relativeHostPath(source) || (isMap(v) && !source.startsWith("/")))
      add(
        v,
        `service ${name}: volume source "${source}" ${CALLER_PATH}; ship files in an image (build:), a named volume or docker cp`,
      );
  }
}

/** Reads and checks each file; unreadable files are reported as problems with line 0. */
export async function checkComposeFiles(
  files: string[],
  opts: ComposeCheckOptions = {},
): Promise<ComposeProblem[]> {
  const all: ComposeProblem[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (e) {
      all.push({ file, line: 0, message: `cannot read: ${(e as Error).message}` });
      continue;
    }
    all.push(...checkComposeText(text, file, opts));
  }
  return all;
}

/** The CLI on `args`, interpolating from `env`; returns its exit code. Tests run it in-process. */
export async function main(
  args: string[],
  io: { out: (line: string) => void; err: (line: string) => void } = {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  },
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    options: { "allow-public": { type: "boolean", default: false } },
    allowPositionals: true,
  });
  const files = positionals.length ? positionals : ["docker/compose.yaml"];
  const problems = await checkComposeFiles(files, { allowPublic: values["allow-public"], env });
  for (const p of problems) io.err(`${p.file}:${p.line}: ${p.message}`);
  if (problems.length === 0) io.out(`compose: ${files.join(", ")} ok`);
  return problems.some((p) => p.line === 0) ? 2 : problems.length ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(await main(process.argv.slice(2)));
}
