/** Checks of tools on the host: Node, the Dagger CLI, qemu binfmt, and plain binaries. */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { CheckResult, DoctorContext } from "./check.js";
import { run, semver, which } from "./probe.js";

/** Oldest Node major the kit supports (package.json `engines`). */
export const MIN_NODE_MAJOR = 22;
/** Oldest Node major the kit's own tooling still runs on; below it the doctor fails instead of warning. */
const RUNS_ON_MAJOR = 20;

/** Node release lines: LTS start and end of life (nodejs/Release schedule.json, 2026-07). */
export const NODE_LINES: Record<number, { lts?: string; eol: string }> = {
  18: { lts: "2022-10-25", eol: "2025-04-30" },
  19: { eol: "2023-06-01" },
  20: { lts: "2023-10-24", eol: "2026-04-30" },
  21: { eol: "2024-06-01" },
  22: { lts: "2024-10-29", eol: "2027-04-30" },
  23: { eol: "2025-06-01" },
  24: { lts: "2025-10-28", eol: "2028-04-30" },
  25: { eol: "2026-06-01" },
  26: { lts: "2026-10-28", eol: "2029-04-30" },
  27: { eol: "2030-04-30" },
};

/** The newest line that is LTS and not past end of life on `day` (YYYY-MM-DD). */
export function activeLts(day: string): number | undefined {
  const lines = Object.entries(NODE_LINES).filter(([, l]) => l.lts && l.lts <= day && day < l.eol);
  return lines.map(([m]) => Number(m)).at(-1);
}

/** The Dagger CLI version the installed SDK expects (its `CLI_VERSION`). */
export async function sdkCliVersion(): Promise<string> {
  // Not exported by the package: read it from the SDK's provisioning module.
  const entry = createRequire(import.meta.url).resolve("@dagger.io/dagger");
  const file = join(dirname(entry), "provisioning", "default.js");
  const m = /CLI_VERSION\s*=\s*"([^"]+)"/.exec(await readFile(file, "utf8"));
  if (!m?.[1]) throw new Error(`${file}: no CLI_VERSION found`);
  return m[1];
}

/** The command that installs Dagger CLI `version` into /usr/local/bin. */
export const daggerInstall = (version: string): string =>
  `curl -fsSL https://dl.dagger.io/dagger/install.sh | BIN_DIR=/usr/local/bin DAGGER_VERSION=${version} sh`;

/**
 * Node itself: this process's version against `engines.node` and the release schedule. Below what the tooling
 * runs on is missing; past end of life or below `engines` is a warning (the pipeline's steps run in the
 * image's own Node), with the active LTS as the fix.
 */
export function nodeCheck(version = process.versions.node, now = new Date()): CheckResult {
  const major = Number(version.split(".")[0]);
  const day = now.toISOString().slice(0, 10);
  const lts = activeLts(day);
  const fix = `install Node ${lts ?? MIN_NODE_MAJOR}${lts ? " (the active LTS)" : ""}; the kit needs >= ${MIN_NODE_MAJOR}`;
  const found = `v${version}`;
  if (!(major >= RUNS_ON_MAJOR)) return { name: "node", status: "missing", found, fix };
  const eol = NODE_LINES[major]?.eol;
  if (eol && eol <= day)
    return { name: "node", status: "warn", found: `${found}, end of life since ${eol}`, fix };
  if (major < MIN_NODE_MAJOR)
    return {
      name: "node",
      status: "warn",
      found: `${found}, below engines >= ${MIN_NODE_MAJOR}`,
      fix,
    };
  return { name: "node", status: "ok", found: eol ? `${found}, supported until ${eol}` : found };
}

/** The Dagger CLI and whether it matches the SDK; optional, since `--engine docker` needs none. */
export async function daggerCheck(ctx: DoctorContext, sdkVersion: string): Promise<CheckResult> {
  const name = "dagger CLI";
  const bin = await which("dagger", ctx.env);
  const fallback = "or run the pipeline with --engine docker";
  if (!bin)
    return {
      name,
      status: "warn",
      found: `not on PATH (SDK wants ${sdkVersion})`,
      fix: `${daggerInstall(sdkVersion)}, ${fallback}`,
    };
  const r = await run(bin, ["version"], ctx.env);
  const v = semver(r.stdout);
  if (v === sdkVersion) return { name, status: "ok", found: `${v} at ${bin}, matches the SDK` };
  return {
    name,
    status: "warn",
    found: `${v ?? `unreadable (${r.stderr || r.stdout})`} at ${bin}, SDK wants ${sdkVersion}`,
    fix: `${daggerInstall(sdkVersion)}, ${fallback}`,
  };
}

/** A plain binary from a Debian package, with the first line of `--version`. */
export async function binaryCheck(
  ctx: DoctorContext,
  bin: string,
  pkg: string,
  what: string,
  required: boolean,
  versionArgs: string[] = ["--version"],
): Promise<CheckResult> {
  const path = await which(bin, ctx.env);
  if (!path)
    return {
      name: bin,
      status: required ? "missing" : "warn",
      found: `not on PATH (${what})`,
      fix: `apt-get install ${pkg}`,
      apt: [pkg],
    };
  const r = await run(path, versionArgs, ctx.env, 5000);
  const line = `${r.stdout}\n${r.stderr}`.trim().split("\n")[0] ?? "";
  return { name: bin, status: "ok", found: `${semver(line) ?? line} at ${path}` };
}

/** qemu emulation for linux/arm64 builds on other hosts, through binfmt_misc. */
export async function qemuCheck(ctx: DoctorContext): Promise<CheckResult> {
  const name = "qemu arm64";
  if (ctx.host.arch === "arm64") return { name, status: "ok", found: "not needed: host is arm64" };
  if (!ctx.host.linux)
    return {
      name,
      status: "warn",
      found: "not checkable from this host",
      fix: "Docker Desktop ships qemu binfmt in its VM; nothing to do there",
    };
  const apt = ["qemu-user-static", "binfmt-support"];
  const fix = `apt-get install ${apt.join(" ")}; mount -t binfmt_misc binfmt_misc ${ctx.binfmtDir}; update-binfmts --enable qemu-aarch64`;
  if (!existsSync(join(ctx.binfmtDir, "register")))
    return {
      name,
      status: "missing",
      found: `binfmt_misc not mounted at ${ctx.binfmtDir}`,
      fix,
      apt,
      action: "binfmt",
    };
  const entry = await readFile(join(ctx.binfmtDir, "qemu-aarch64"), "utf8").catch(() => "");
  if (!entry)
    return {
      name,
      status: "missing",
      found: "qemu-aarch64 not registered",
      fix,
      apt,
      action: "binfmt",
    };
  const interpreter = /^interpreter (\S+)/m.exec(entry)?.[1] ?? "?";
  if (!entry.startsWith("enabled"))
    return {
      name,
      status: "missing",
      found: `qemu-aarch64 disabled (${interpreter})`,
      fix,
      apt,
      action: "binfmt",
    };
  // With flag F the kernel opened the interpreter at registration; otherwise it must still exist.
  const fixed = /^flags: \S*F/m.test(entry);
  if (!fixed && !existsSync(interpreter))
    return {
      name,
      status: "missing",
      found: `interpreter ${interpreter} is gone`,
      fix,
      apt,
      action: "binfmt",
    };
  return { name, status: "ok", found: `qemu-aarch64 enabled (${interpreter})` };
}
