/**
 * bench/scan: the scan stage's debian-security fallback on the built app image, cold and warm.
 *
 * Cold: no cache volume (codex-ci-debian-security removed), so the suites' lists are fetched and every
 * changelog downloaded. Warm: the same again, lists and changelogs from the volume. Both on the Docker engine,
 * with Trivy unavailable (the config copy names an image that does not exist), on the images the last
 * `build` left (reports/build.json; `--build` runs it first). Prints wall and stage times and the load.
 *
 * `--pinned` scans instead a small image with one pending security update (libexpat1 pinned to bookworm's
 * 2.5.0-1+deb12u2, as in test/e2e/scan/), native platform only: there cold also downloads the fixed .deb for
 * its changelog, which warm reads from the volume.
 *
 * Usage: npx tsx bench/scan.ts [--build] [--runs 1] [--pinned]
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { $ } from "zx";
import { chooseDockerBin } from "../ci/lib/docker-bin.js";
import type { RunReport } from "../ci/report.js";
import { CACHE_VOLUME } from "../ci/stages/scan/debian/runs.js";

const DOCKER_BIN = await chooseDockerBin(process.env);

const { values } = parseArgs({
  options: {
    build: { type: "boolean", default: false },
    runs: { type: "string", default: "1" },
    pinned: { type: "boolean", default: false },
  },
});
const dir = mkdtempSync(join(tmpdir(), "codex-bench-scan-"));
const config = join(dir, "pipeline.yaml");
writeFileSync(
  config,
  readFileSync("ci/pipeline.yaml", "utf8").replace(
    /trivy: \S+/,
    `trivy: "codex-bench/no-such-trivy:${process.pid}"`,
  ),
);
// The repo's own tsx and CLI, so a run can start in another root.
const TSX = join(process.cwd(), "node_modules/.bin/tsx");
const MAIN = join(process.cwd(), "ci/main.ts");
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(", ");

/**
 * A root whose reports/build.json names the pinned image, built for the native platform; the root and
 * the image are removed at the end.
 */
async function pinnedRoot(): Promise<{ root: string; done: () => Promise<void> }> {
  const root = join(dir, "pinned");
  const arch = process.arch === "arm64" ? "arm64" : "amd64";
  const name = `codex-bench-pinned-${process.pid}`;
  await $`mkdir -p ${root}/reports/images`;
  writeFileSync(
    join(root, "Dockerfile"),
    "FROM node:24-bookworm-slim\nRUN apt-get update -qq && apt-get upgrade -y -qq && apt-get install -y -qq --allow-downgrades libexpat1=2.5.0-1+deb12u2 && rm -rf /var/lib/apt/lists/*\n",
  );
  await $({ quiet: true })`${DOCKER_BIN} build -q -t ${name}:t-${arch} ${root}`;
  writeFileSync(join(root, "reports/images/unused.tar"), "");
  writeFileSync(
    join(root, "reports/build.json"),
    JSON.stringify({
      image: name,
      tags: ["t"],
      deployTag: "t",
      platforms: [{ platform: `linux/${arch}`, tarball: "reports/images/unused.tar" }],
      published: [],
      revision: "bench",
      version: "0",
      created: "1970-01-01T00:00:00Z",
    }),
  );
  return {
    root,
    done: async () => {
      await $({ nothrow: true, quiet: true })`${DOCKER_BIN} rmi ${name}:t-${arch}`;
    },
  };
}

/** One `scan` run: wall seconds, the stage's seconds and its detail. */
async function scan(
  cwd = process.cwd(),
): Promise<{ wall: number; stage: number; status: string; detail: string }> {
  const json = join(dir, `report-${Date.now()}.json`);
  const t0 = Date.now();
  await $({
    nothrow: true,
    quiet: true,
    cwd,
  })`${TSX} ${MAIN} scan --skip build --engine docker --config ${config} --json ${json}`;
  const wall = (Date.now() - t0) / 1000;
  const report = JSON.parse(readFileSync(json, "utf8")) as RunReport;
  const s = report.stages.find((x) => x.stage === "scan");
  return {
    wall,
    stage: (s?.durationMs ?? 0) / 1000,
    status: s?.status ?? "missing",
    detail: s?.detail ?? "",
  };
}

const pinned = values.pinned ? await pinnedRoot() : undefined;
const root = pinned?.root ?? process.cwd();
try {
  if (values.build && !pinned)
    await $({ stdio: "inherit" })`npx tsx ci/main.ts build --engine docker`;
  const manifest = JSON.parse(readFileSync(join(root, "reports/build.json"), "utf8"));
  console.log(
    `app image ${manifest.image}:${manifest.deployTag} for ${manifest.platforms.map((p: { platform: string }) => p.platform).join(", ")}`,
  );
  for (let i = 0; i < Number(values.runs); i++) {
    // Cold: the scanner's cache volume gone (fails while a scan is using it: then run again later).
    await $({ nothrow: true, quiet: true })`${DOCKER_BIN} volume rm ${CACHE_VOLUME}`;
    const before = load();
    const cold = await scan(root);
    const warm = await scan(root);
    console.log(`load before: ${before}; after: ${load()} (1, 5, 15 min)`);
    for (const [name, r] of [
      ["cold", cold],
      ["warm", warm],
    ] as const)
      console.log(
        `${name}: ${r.wall.toFixed(1)} s wall, scan stage ${r.stage.toFixed(1)} s, ${r.status}: ${r.detail}`,
      );
    console.log(`warm / cold (stage): ${(warm.stage / cold.stage).toFixed(2)}`);
  }
} finally {
  await pinned?.done();
  rmSync(dir, { recursive: true, force: true });
}
