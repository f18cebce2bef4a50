/**
 * test: the matrix of Node versions × test kinds, each cell `npm ci` + `npm run test:<kind>` in its own
 * container from node:<v>-bookworm-slim, cells in parallel up to --jobs, every failing cell reported.
 *
 * Every cell runs with REQUIRE_DOCKER=1, so a skipped test fails it. e2e cells get a Docker daemon of their own: a docker:dind service the engine starts beside the cell,
 * reached as DOCKER_HOST=tcp://docker:2375, with its /var/lib/docker in a cache volume. The same spec runs on
 * both engines; the tests share nothing with the caller's daemon, files or network.
 */
import { type MatrixCell, matrixCells, nodeImage, type PipelineConfig } from "../../config.js";
import type { RunSpec, ServiceSpec } from "../../engine.js";
import { summarize } from "../../lib/cells.js";
import { nodeContainer, npmCi, npmRun, toolSteps } from "../../lib/node-env.js";
import { platformRef } from "../../lib/platform.js";
import type { PlanContext, Stage, StageContext, StageResult } from "../../stage.js";

/** "node22/unit". */
export const cellName = (c: MatrixCell): string => `node${c.node}/${c.kind}`;

/** Where an e2e cell's tests reach their Docker daemon. */
export const DOCKER_HOST = "tcp://docker:2375";

/**
 * Images the e2e suites start from: the image's base (with the per-platform aliases offline hosts keep), the
 * monitoring images of the stack, and what the Docker engine's own e2e tests run in that daemon (the matrix's
 * node images, and docker:dind for an e2e cell's service). The daemon service gets them loaded where it
 * cannot pull them; its data is a cache volume, so that happens once.
 */
export function e2eImages(config: PipelineConfig): string[] {
  const base = nodeImage(config, config.image.nodeVersion);
  return [
    base,
    ...config.platforms.map((p) => platformRef(base, p)),
    config.images.prometheus,
    config.images.alertmanager,
    ...config.node.map((v) => nodeImage(config, v)),
    config.images.dind,
  ];
}

/** The Docker daemon of an e2e cell: docker:dind with TLS off on 2375, its data kept per cell. */
export function dockerService(config: PipelineConfig, c: MatrixCell): ServiceSpec {
  return {
    hostname: "docker",
    image: config.images.dind,
    useEntrypoint: true,
    privileged: true,
    env: { DOCKER_TLS_CERTDIR: "" },
    ports: [2375],
    caches: { "/var/lib/docker": `codex-ci-dind-node${c.node}` },
    ready: ["docker", "info"],
    preload: e2eImages(config),
  };
}

/** One cell's run: tools (cached apart from the source), then `npm ci` and the kind's tests over the source. */
export function cellRun(ctx: PlanContext, c: MatrixCell): RunSpec {
  const base = nodeContainer(ctx, c.node);
  const setup = toolSteps([
    ...ctx.config.test.packages,
    ...(c.kind === "e2e" ? ctx.config.test.e2ePackages : []),
  ]);
  // REQUIRE_DOCKER=1 in every cell: the runner fails a cell with any skipped test, so no cell passes by
  // leaving tests out. Tests that need Docker live in test/e2e/, the kind whose cells get a daemon; one left
  // in unit or integration fails its cell instead of skipping there unseen.
  const run: RunSpec = {
    name: cellName(c),
    ...base,
    env: { ...base.env, REQUIRE_DOCKER: "1" },
    setup,
    steps: [npmCi, npmRun(`test:${c.kind}`)],
  };
  if (c.kind !== "e2e") return run;
  return {
    ...run,
    services: [dockerService(ctx.config, c)],
    env: { ...run.env, DOCKER_HOST },
  };
}

/** Every cell's run. */
const cellRuns = (ctx: PlanContext): RunSpec[] =>
  matrixCells(ctx.config, ctx.options.only).map((c) => cellRun(ctx, c));

/** Every cell at once (as many as --jobs allows); with --fail-fast the first failing cell cancels the rest. */
async function run(ctx: StageContext): Promise<StageResult> {
  const runs = cellRuns(ctx);
  if (runs.length === 0)
    return {
      status: "skipped",
      detail: "no matrix cells: include/exclude leave none for these versions and kinds",
    };
  const abort = new AbortController();
  ctx.signal.addEventListener("abort", () => abort.abort(), { once: true });
  const cells = await Promise.all(
    runs.map(async (spec) => {
      const { cell, value } = await ctx.row(
        spec.name,
        (row) =>
          ctx.engine.run({
            ...spec,
            ...row,
            signal: abort.signal,
            failed: () => {
              if (ctx.options.failFast && !abort.signal.aborted) abort.abort();
            },
          }),
        { signal: abort.signal },
      );
      if (value?.steps.every((s) => s.cached)) cell.detail = "cached";
      return cell;
    }),
  );
  return summarize(cells, cells.length === 1 ? "1 cell" : `${cells.length} cells`);
}

export const test = {
  name: "test",
  about:
    "Node versions × unit/integration/e2e, each cell in its own node:<v>-bookworm-slim container",
  needs: [],
  describe: async (ctx: PlanContext) =>
    cellRuns(ctx).map((spec) => ({ kind: "run" as const, spec })),
  run,
} as const satisfies Stage;
