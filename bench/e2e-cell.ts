/**
 * bench/e2e-cell: what a Docker daemon of its own costs an e2e cell. One small e2e cell (a `docker build` and a
 * `docker run` against the cell's daemon, like the e2e suites do) on the Docker engine:
 *
 *   dind cold   this tree, the docker:dind service on a fresh data volume (images loaded into it)
 *   dind warm   the same again (the volume keeps images and build cache)
 *   host socket the same cell with the pipeline of `--baseline` (default a6f0516, the last commit whose e2e
 *               cells used the host's socket), twice, the second taken
 *
 * Aim: dind warm ≤ 1.2× host socket.
 *
 * Usage: npx tsx bench/e2e-cell.ts [--baseline <rev>] [--node 26]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { $ } from "zx";
import { chooseDockerBin } from "../ci/lib/docker-bin.js";

const { values } = parseArgs({
  options: {
    baseline: { type: "string", default: "a6f0516" },
    node: { type: "string", default: "26" },
  },
});
const repo = resolve(import.meta.dirname, "..");
const DOCKER = await chooseDockerBin(process.env);
const dir = mkdtempSync(join(tmpdir(), "codex-bench-e2e-"));
const TSX = import.meta.resolve("tsx");

/** The fixture: an e2e script that builds and runs a small image on whatever daemon the cell has. */
function fixture(): string {
  const root = join(dir, "fixture");
  mkdirSync(root, { recursive: true });
  const pkg = {
    name: "codex-bench-e2e",
    version: "0.0.0",
    private: true,
    scripts: { "test:e2e": "sh e2e.sh" },
  };
  writeFileSync(join(root, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(
    join(root, "package-lock.json"),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages: { "": { name: pkg.name, version: pkg.version } } }, null, 2)}\n`,
  );
  const image = `node:${values.node}-bookworm-slim`;
  writeFileSync(
    join(root, "e2e.sh"),
    `set -e
tag=codex-bench-e2e:$(date +%s%N)
printf 'FROM ${image}\\nRUN node -e "require(\\\\"fs\\\\").writeFileSync(\\\\"/stamp\\\\", String(Date.now()))"\\n' | docker build -q -t "$tag" - >/dev/null
docker run --rm "$tag" cat /stamp
docker rmi -f "$tag" >/dev/null
`,
  );
  return root;
}

/** The config with no apt packages beyond the docker client, so the cell is the daemon's work and npm ci. */
function configFor(source: string): string {
  const file = join(dir, `pipeline-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(
    file,
    readFileSync(source, "utf8")
      .replace(/^ {2}packages: \[.*\]$/m, "  packages: []")
      .replace(/^ {2}e2ePackages: \[.*\]$/m, "  e2ePackages: [docker.io]")
      .replace(/^ {4}- \{ node: "\d+", kind: e2e \}\n/gm, "")
      .replace(/^( {2}exclude:)\n(?! {4}-)/m, "$1 []\n"),
  );
  return file;
}

/** Runs one e2e cell with the CLI at `main`; wall seconds. */
async function cell(main: string, config: string, root: string): Promise<number> {
  const t0 = performance.now();
  const r = await $({
    nothrow: true,
    quiet: true,
    cwd: root,
  })`${process.execPath} --import ${TSX} ${main} test --engine docker --no-cache --only e2e --node ${values.node} --config ${config}`;
  const s = (performance.now() - t0) / 1000;
  if (r.exitCode !== 0)
    throw new Error(`the e2e cell failed (${main}):\n${(r.stdout + r.stderr).slice(-2000)}`);
  return s;
}

try {
  const root = fixture();
  const load = (await $({ quiet: true })`uptime`).stdout.trim().replace(/.*load average: /, "");
  console.log(`bench/e2e-cell on ${DOCKER}, node ${values.node}, load ${load}\n`);

  // The baseline pipeline from git, with its own dependencies (they have changed since: p-limit → p-queue).
  const old = join(dir, "baseline");
  mkdirSync(old);
  await $({
    quiet: true,
    cwd: repo,
  })`git archive --format=tar ${values.baseline} ci package.json package-lock.json | tar -C ${old} -xf -`;
  await $({ quiet: true, cwd: old })`npm ci --no-audit --no-fund --ignore-scripts`;
  const oldConfig = configFor(join(old, "ci", "pipeline.yaml"));
  await cell(join(old, "ci", "main.ts"), oldConfig, root);
  const host = await cell(join(old, "ci", "main.ts"), oldConfig, root);

  const volume = `codex-ci-dind-node${values.node}`;
  await $({ nothrow: true, quiet: true })`${DOCKER} volume rm -f ${volume}`;
  const config = configFor(join(repo, "ci", "pipeline.yaml"));
  const cold = await cell(join(repo, "ci", "main.ts"), config, root);
  const warm = await cell(join(repo, "ci", "main.ts"), config, root);

  const line = (label: string, s: number) =>
    console.log(`${label.padEnd(44)} ${s.toFixed(1).padStart(7)} s`);
  line(`host socket (${values.baseline}, warm)`, host);
  line("dind cold (fresh data volume, images loaded)", cold);
  line("dind warm", warm);
  console.log(`\ndind warm / host socket = ${(warm / host).toFixed(2)}   (aim ≤ 1.2)`);
  console.log(`dind cold / host socket = ${(cold / host).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
