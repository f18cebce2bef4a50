/**
 * bench/pipeline: the pipeline on the Docker engine, timed end to end.
 *
 * 1. cold vs warm `lint test`: cold starts with no npm cache volume and no step snapshots; warm reruns with
 *    nothing changed (passing steps come from snapshots, npm from its cache volume).
 *    Target: warm ≤ 40% of cold.
 * 2. parallel vs sequential matrix: `test --only unit` for three Node versions in one run (cells in parallel)
 *    against the same three cells run one after another. Target: parallel ≤ 0.75× sequential.
 *
 * Usage: npx tsx bench/pipeline.ts [--cells 20,22,24] [--node 22]
 * Uses its own cache volume (codex-ci-bench-npm) so your cache is untouched; stage pass/fail is printed but
 * does not stop the bench (it measures time, not the repo's health).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { $ } from "zx";
import { SNAPSHOT_LABEL } from "../ci/engines/docker.js";
import { DOCKER_BIN } from "../ci/host.js";

const { values } = parseArgs({
  options: {
    cells: { type: "string", default: "20,22,24" },
    node: { type: "string", default: "22" },
  },
});
const cells = (values.cells ?? "").split(",");
const VOLUME = "codex-ci-bench-npm";

// The shipped config with the bench's own npm cache volume.
const dir = mkdtempSync(join(tmpdir(), "codex-ci-bench-"));
const config = join(dir, "pipeline.yaml");
writeFileSync(
  config,
  readFileSync("ci/pipeline.yaml", "utf8").replace(/npm: \S+/, `npm: ${VOLUME}`),
);

/** Runs the CLI on the Docker engine; returns wall seconds and the exit code. */
async function timed(args: string[]): Promise<{ s: number; code: number }> {
  const t0 = performance.now();
  const r = await $({
    nothrow: true,
    quiet: true,
  })`npx tsx ci/main.ts --engine docker --config ${config} ${args}`;
  return { s: (performance.now() - t0) / 1000, code: r.exitCode ?? -1 };
}

/** One figure line. */
const show = (label: string, r: { s: number; code: number }) =>
  console.log(`${label.padEnd(34)} ${r.s.toFixed(1).padStart(7)} s   (exit ${r.code})`);

try {
  console.log(`bench/pipeline on ${DOCKER_BIN}, ${(await $`nproc`).stdout.trim()} cores\n`);
  // Cold: no npm cache volume and no step snapshots.
  await $({ nothrow: true, quiet: true })`${DOCKER_BIN} volume rm -f ${VOLUME}`;
  const snapshots = (
    await $({ quiet: true })`${DOCKER_BIN} images -q --filter label=${SNAPSHOT_LABEL}`
  ).stdout
    .split("\n")
    .filter(Boolean);
  if (snapshots.length)
    await $({ nothrow: true, quiet: true })`${DOCKER_BIN} rmi -f ${[...new Set(snapshots)]}`;
  const lintTest = ["lint", "test", "--node", values.node ?? "22", "--only", "unit"];
  const cold = await timed(lintTest);
  show(`cold  ${lintTest.join(" ")}`, cold);
  const warm = await timed(lintTest);
  show(`warm  ${lintTest.join(" ")}`, warm);
  console.log(`warm / cold = ${(warm.s / cold.s).toFixed(2)}   (target ≤ 0.40)\n`);

  // Matrix runs re-run every step (--no-cache), so both sides do the same work.
  const parallel = await timed(["test", "--only", "unit", "--no-cache", "--node", cells.join(",")]);
  show(`parallel  test --node ${cells.join(",")}`, parallel);
  let seqS = 0;
  for (const v of cells) {
    const r = await timed(["test", "--only", "unit", "--no-cache", "--node", v]);
    show(`  sequential test --node ${v}`, r);
    seqS += r.s;
  }
  show("sequential total", { s: seqS, code: 0 });
  console.log(`parallel / sequential = ${(parallel.s / seqS).toFixed(2)}   (target ≤ 0.75)`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
