/**
 * Shared pieces of the pipeline e2e tests: a temp repo root, a Docker engine, stage contexts and
 * a cleanup list that runs after the suite, on failure and on Ctrl-C. Every Docker object the
 * tests make carries the run's unique id in its name.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig, type PipelineConfig } from "../../../ci/config.js";
import type { Engine } from "../../../ci/engine.js";
import { openDocker } from "../../../ci/engines/docker/index.js";
import { localRows } from "../../../ci/lib/cells.js";
import { chooseDockerBin } from "../../../ci/lib/docker-bin.js";
import { readSettings } from "../../../ci/settings.js";
import type { Settings, StageContext, StageOptions } from "../../../ci/stage.js";
import { build } from "../../../ci/stages/build/index.js";
import type { BuildManifest } from "../../../ci/stages/build/manifest.js";
import { CA_BUNDLE } from "../../helpers/ca.js";

export const repoRoot = process.cwd();
/** Unique per test process: names images, projects and tags. */
/** Debian's client, as the pipeline picks it. */
export const DOCKER_BIN = await chooseDockerBin(process.env);
/** The run's settings: this process's environment, with the CA bundle steps and builds get. */
const settings = await readSettings({ ...process.env, NODE_EXTRA_CA_CERTS: CA_BUNDLE });
export const id = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

/** Runs docker (Debian's client, BuildKit built in) and returns stdout; throws with stderr on failure. */
export function docker(...args: string[]): string {
  return execFileSync(DOCKER_BIN, args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  }).trim();
}

/** Runs docker without throwing; returns the exit code and output. */
export function dockerTry(...args: string[]): { status: number; out: string } {
  const r = spawnSync(DOCKER_BIN, args, { encoding: "utf8" });
  return { status: r.status ?? 1, out: `${r.stdout}${r.stderr}` };
}

const cleanups: (() => void | Promise<void>)[] = [];
/** Registers a cleanup for the end of the suite; they run newest first. */
export function onCleanup(fn: () => void | Promise<void>): void {
  cleanups.push(fn);
}
/** Runs every registered cleanup once, newest first, ignoring failures. */
export async function cleanup(): Promise<void> {
  while (cleanups.length) {
    try {
      await cleanups.pop()?.();
    } catch {
      // best effort: the next cleanup still runs
    }
  }
}
const atExit: (() => void)[] = [];
/** Registers a cleanup for the end of the process (images shared by several suites). */
export function onExit(fn: () => void): void {
  atExit.push(fn);
}
process.on("exit", () => {
  // Only synchronous work runs here: suites await cleanup() in test.after; this catches the rest.
  for (const fn of cleanups.reverse()) {
    try {
      void fn();
    } catch {
      // best effort
    }
  }
  for (const fn of atExit.reverse()) {
    try {
      fn();
    } catch {
      // best effort
    }
  }
});
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.once(sig, () => {
    // Await the async cleanups (engine.close removes build tags), then exit; the exit handler catches the rest.
    void cleanup().finally(() => process.exit(130));
  });

/** A temp repo root: a git repo with the build context, docker/ and .trivyignore, so reports/ of the repo is untouched. */
export function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), `codex-e2e-${id}-`));
  onCleanup(() => rmSync(root, { recursive: true, force: true }));
  // What the Dockerfile reads (the build context is the root) plus what scan and deploy read.
  const files = ["package.json", "package-lock.json", "tsconfig.json", "tsconfig.build.json"];
  for (const f of [...files, ".dockerignore", ".trivyignore", "scripts", "docker"])
    cpSync(join(repoRoot, f), join(root, f), { recursive: true });
  const git = (...a: string[]) => execFileSync("git", ["-C", root, ...a], { stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("add", ".");
  git("-c", "user.name=e2e", "-c", "user.email=e2e@test", "commit", "-qm", "e2e");
  return root;
}

/** The config with this run's image name. */
export async function e2eConfig(): Promise<PipelineConfig> {
  const config = await loadConfig(join(repoRoot, "ci/pipeline.yaml"));
  config.image.name = `codex-e2e-${id}`;
  return config;
}

/** A Docker engine closed at cleanup. */
export async function engine(): Promise<Engine> {
  const e = await openDocker(`e2e${id}`, { cache: true, settings: settings.engine });
  onCleanup(() => e.close());
  return e;
}

/** A stage context on the Docker engine; log lines are collected and echoed. */
export function context(
  e: Engine,
  config: PipelineConfig,
  root: string,
  options: Partial<StageOptions> = {},
  extra: Partial<Settings> = {},
): StageContext & { lines: string[] } {
  const lines: string[] = [];
  const sink = (prefix: string) => (l: string) => {
    lines.push(`${prefix}${l}`);
    if (process.env.E2E_VERBOSE) console.log(`${prefix}${l}`);
  };
  return {
    engine: e,
    config,
    options: { only: [], failFast: false, push: false, down: false, volumes: false, ...options },
    root,
    runId: `e2e${id}`,
    log: sink(""),
    cellLog: (c) => sink(`[${c}] `),
    row: localRows((c) => sink(`[${c}] `)),
    settings: { ...settings.stages, ...extra },
    signal: new AbortController().signal,
    lines,
  };
}

/** Removes every tag of repository `repo` (by name, so images others tagged are never touched). */
export function removeImages(repo: string): void {
  const tags = dockerTry(
    "images",
    "--format",
    "{{.Repository}}:{{.Tag}}",
    "--filter",
    `reference=${repo}`,
  )
    .out.split("\n")
    .filter((t) => t.startsWith(`${repo}:`));
  if (tags.length) dockerTry("rmi", ...tags);
}

/** The app image, built once per process for `platforms` and shared by the suites. */
let shared: Promise<{ manifest: BuildManifest; lines: string[]; detail: string }> | undefined;
export function sharedBuild(
  e: Engine,
  config: PipelineConfig,
  root: string,
): Promise<{ manifest: BuildManifest; lines: string[]; detail: string }> {
  shared ??= (async () => {
    onExit(() => removeImages(config.image.name));
    const ctx = context(e, config, root);
    const result = await build.run(ctx);
    if (result.status !== "passed")
      throw new Error(
        `build ${result.status}: ${result.detail}\n${ctx.lines.slice(-30).join("\n")}`,
      );
    const manifest = JSON.parse(
      readFileSync(join(root, "reports/build.json"), "utf8"),
    ) as BuildManifest;
    return { manifest, lines: ctx.lines, detail: result.detail ?? "" };
  })();
  return shared;
}
