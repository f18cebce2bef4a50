/**
 * Benchmark: an unchanged second `build` as a ratio to the first, on the Docker engine.
 * Target: at most 25%, from BuildKit's layer cache.
 *
 *   npx tsx bench/build.ts [--platform linux/amd64,linux/arm64]
 *
 * The first build runs on a copy of the build context whose package.json description carries a
 * fresh marker, so `npm ci`, `tsc` and every later layer really rebuild (a dependency change,
 * without pruning anyone's build cache); the second build is the same context again. Both go
 * through the real build stage (tarballs included). Images and the copy are removed afterwards.
 */
import { execFileSync } from "node:child_process";
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { loadConfig } from "../ci/config.js";
import { openDocker } from "../ci/engines/docker/index.js";
import { localRows } from "../ci/lib/cells.js";
import { readSettings } from "../ci/settings.js";
import type { StageContext } from "../ci/stage.js";
import { build } from "../ci/stages/build/index.js";

const { values } = parseArgs({ options: { platform: { type: "string" } } });
const repo = resolve(import.meta.dirname, "..");
const id = `${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;
const config = await loadConfig(join(repo, "ci/pipeline.yaml"));
config.image.name = `codex-bench-${id}`;
if (values.platform) config.platforms = values.platform.split(",");

// A copy of what the Dockerfile reads, with a fresh marker so the first build is real work.
const root = mkdtempSync(join(tmpdir(), `codex-bench-${id}-`));
for (const p of [
  "package.json",
  "package-lock.json",
  "tsconfig.json",
  "tsconfig.build.json",
  ".dockerignore",
  "scripts",
  "docker",
])
  cpSync(join(repo, p), join(root, p), { recursive: true });
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
pkg.description = `${pkg.description} (bench ${id})`;
writeFileSync(join(root, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
const git = (...a: string[]) => execFileSync("git", ["-C", root, ...a], { stdio: "ignore" });
git("init", "-q", "-b", "bench");
git("add", ".");
git("-c", "user.name=bench", "-c", "user.email=bench@local", "commit", "-qm", "bench");

const settings = await readSettings({
  ...process.env,
  NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? "/etc/ssl/certs/ca-certificates.crt",
});
const DOCKER_BIN = settings.engine.dockerBin;
const engine = await openDocker(`bench${id}`, { cache: true, settings: settings.engine });
/** Runs the build stage once on the copy; returns seconds. */
async function timed(label: string): Promise<number> {
  const ctx: StageContext = {
    engine,
    config,
    options: { only: [], failFast: false, push: false, down: false, volumes: false },
    root,
    runId: `bench${id}`,
    log: () => {},
    cellLog: () => () => {},
    row: localRows(() => () => {}),
    settings: settings.stages,
    signal: new AbortController().signal,
  };
  const t0 = performance.now();
  const r = await build.run(ctx);
  const s = (performance.now() - t0) / 1000;
  if (r.status !== "passed") throw new Error(`${label} build ${r.status}: ${r.detail}`);
  console.log(`${label.padEnd(22)} ${s.toFixed(1).padStart(7)} s`);
  return s;
}

try {
  console.log(`build bench: ${config.platforms.join(", ")}, Docker engine (${DOCKER_BIN})`);
  const first = await timed("first (deps changed)");
  const second = await timed("second (unchanged)");
  const ratio = (second / first) * 100;
  console.log(
    `ratio ${ratio.toFixed(1)}% of the first (target <= 25%): ${ratio <= 25 ? "met" : "NOT met"}`,
  );
} finally {
  await engine.close();
  const tags = execFileSync(
    DOCKER_BIN,
    [
      "images",
      "--format",
      "{{.Repository}}:{{.Tag}}",
      "--filter",
      `reference=${config.image.name}`,
    ],
    { encoding: "utf8" },
  )
    .split("\n")
    .filter((t) => t.startsWith(`${config.image.name}:`));
  if (tags.length) execFileSync(DOCKER_BIN, ["rmi", ...tags], { stdio: "ignore" });
  rmSync(root, { recursive: true, force: true });
}
