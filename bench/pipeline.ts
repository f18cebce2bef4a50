/**
 * bench/pipeline: the pipeline on the Docker engine, timed end to end.
 *
 * 1. cold vs warm `lint test`: cold starts with no npm cache volume and no step snapshots; warm reruns with
 *    nothing changed (passing steps come from snapshots, npm from its cache volume).
 *    Target: warm ≤ 40% of cold.
 * 2. parallel vs sequential matrix: `test --only unit` for three Node versions in one run, all cells at once
 *    (`--jobs <cells>`; `--jobs n` to try another cap) against the same run with `--jobs 1`.
 *    Target: parallel ≤ 0.75× sequential.
 *
 * 3. the `--jobs` sweep: `--jobs 1,2,3,4` runs the matrix once per cap and prints each against `--jobs 1`;
 *    this is how the default cap was chosen (docs/pipeline.md).
 *
 * Usage: npx tsx bench/pipeline.ts [--cells 22,24,26] [--node 22] [--jobs n|n,m,...] [--part all|matrix]
 *        [--tree head|worktree]
 * Runs on a copy of the committed tree (`git archive HEAD`, default) so "nothing changed" holds while people
 * edit the working tree; `--tree worktree` copies the working tree instead. Uses its own npm cache volume
 * (codex-ci-bench-npm). Stage pass/fail is printed but does not stop the bench: failing steps are never
 * served from snapshots, so a red tree shows a smaller warm gain.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { $ } from "zx";
import { SNAPSHOT_LABEL } from "../ci/engines/docker/index.js";
import { chooseDockerBin } from "../ci/lib/docker-bin.js";
import type { RunReport } from "../ci/report.js";

const { values } = parseArgs({
  options: {
    cells: { type: "string", default: "22,24,26" },
    node: { type: "string", default: "22" },
    tree: { type: "string", default: "head" },
    jobs: { type: "string" },
    part: { type: "string", default: "all" },
  },
});
const cells = (values.cells ?? "").split(",");
const VOLUME = "codex-ci-bench-npm";
const DOCKER_BIN = await chooseDockerBin(process.env);

// A stable copy of the tree, and the shipped config with the bench's own npm cache volume.
const dir = mkdtempSync(join(tmpdir(), "codex-ci-bench-"));
const tree = join(dir, "tree");
await $`mkdir -p ${tree}`;
if (values.tree === "worktree")
  await $`tar -C . --exclude=node_modules --exclude=.git --exclude=.cache -cf - . | tar -C ${tree} -xf -`;
else await $`git archive --format=tar HEAD | tar -C ${tree} -xf -`;
const main = join(process.cwd(), "ci", "main.ts");
const TSX = import.meta.resolve("tsx");
const config = join(dir, "pipeline.yaml");
writeFileSync(
  config,
  readFileSync("ci/pipeline.yaml", "utf8").replace(/npm: \S+/, `npm: ${VOLUME}`),
);

interface Timing {
  s: number;
  code: number;
  /** "cached 3/5; failed: lint biome, test node22/unit" from the run's JSON report. */
  note: string;
}

/** Runs the CLI on the Docker engine; returns wall seconds, the exit code and what was cached or failed. */
async function timed(args: string[]): Promise<Timing> {
  const report = join(dir, "report.json");
  rmSync(report, { force: true });
  const t0 = performance.now();
  const r = await $({
    nothrow: true,
    quiet: true,
    cwd: tree,
  })`${process.execPath} --import ${TSX} ${main} --engine docker --config ${config} --json ${report} ${args}`;
  const s = (performance.now() - t0) / 1000;
  let note = "";
  try {
    const { stages } = JSON.parse(readFileSync(report, "utf8")) as RunReport;
    const rows = stages.flatMap((st) =>
      (st.cells ?? []).map((c) => ({ ...c, name: `${st.stage} ${c.name}` })),
    );
    const failed = rows.filter((c) => c.status === "failed").map((c) => c.name);
    note = `cached ${rows.filter((c) => c.detail === "cached").length}/${rows.length}`;
    if (failed.length) note += `; failed: ${failed.join(", ")}`;
  } catch {
    note = "no report";
  }
  return { s, code: r.exitCode ?? -1, note };
}

/** One figure line. */
const show = (label: string, r: Timing) =>
  console.log(`${label.padEnd(34)} ${r.s.toFixed(1).padStart(7)} s   (exit ${r.code}; ${r.note})`);

try {
  const rev = (await $({ quiet: true })`git rev-parse --short HEAD`).stdout.trim();
  console.log(
    `bench/pipeline on ${DOCKER_BIN}, ${(await $`nproc`).stdout.trim()} cores, tree ${values.tree} (${rev})\n`,
  );
  if (values.part !== "matrix") {
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
  }

  // Matrix runs re-run every step (--no-cache), so both sides do the same work. Sequential is the same run
  // with one job slot; parallel gives every cell a slot unless --jobs says otherwise.
  const matrix = ["test", "--only", "unit", "--no-cache", "--node", cells.join(",")];
  const caps = (values.jobs ?? String(cells.length)).split(",").filter((n) => n !== "1");
  const runs: [string, Timing][] = [];
  for (const jobs of caps) {
    const parallel = await timed([...matrix, "--jobs", jobs]);
    show(`parallel  ${matrix.join(" ")} --jobs ${jobs}`, parallel);
    runs.push([jobs, parallel]);
  }
  const sequential = await timed([...matrix, "--jobs", "1"]);
  show(`sequential  ${matrix.join(" ")} --jobs 1`, sequential);
  for (const [jobs, parallel] of runs)
    console.log(
      `--jobs ${jobs} / --jobs 1 = ${(parallel.s / sequential.s).toFixed(2)}   (target ≤ 0.75)`,
    );
  console.log(`load after: ${(await $({ quiet: true })`uptime`).stdout.trim()}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
