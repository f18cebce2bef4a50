/**
 * test: the matrix of Node versions × test kinds, each cell `npm ci` + `npm run test:<kind>` in its own
 * container from node:<v>-bookworm-slim, cells in parallel up to --jobs, every failing cell reported.
 *
 * e2e cells use the host's Docker socket, not a docker:dind service: dind needs a privileged container and
 * an image no registry here serves, and it would see none of the offline images or the layer cache the host
 * already has. The host socket costs isolation, so e2e tests label and remove what they create. The source
 * sits at the host repo's own path, so bind mounts the tests ask the host daemon for resolve to the same files.
 */
import { type MatrixCell, matrixCells } from "../config.js";
import type { ContainerSpec, Step } from "../engine.js";
import { DOCKER_BIN } from "../host.js";
import { nodeContainer, npmCi, npmRun, shown, toolSteps } from "../node-env.js";
import type { CellResult, PlanContext, PlanFn, StageContext, StageFn } from "../stage.js";

/** "node22/unit". */
export const cellName = (c: MatrixCell): string => `node${c.node}/${c.kind}`;

/** The container of one cell; e2e cells get the host socket and a docker client. */
export function cellContainer(ctx: PlanContext, c: MatrixCell): ContainerSpec {
  if (c.kind !== "e2e") return nodeContainer(ctx, c.node);
  const base = nodeContainer(ctx, c.node, ctx.root);
  return {
    ...base,
    dockerSocket: true,
    // Docker-outside-of-docker: ports and /tmp bind mounts the tests ask the host daemon for resolve alike.
    hostNetwork: true,
    hostPaths: ["/tmp"],
    files: [{ from: DOCKER_BIN, to: "/usr/local/bin/docker" }],
    env: { ...base.env, REQUIRE_DOCKER: "1" },
  };
}

/** The tools a cell installs before the source goes in (cached apart from source changes). */
export const cellSetup = (ctx: PlanContext, c: MatrixCell): Step[] =>
  toolSteps([
    ...ctx.config.test.packages,
    ...(c.kind === "e2e" ? ctx.config.test.e2ePackages : []),
  ]);

/** The steps of one cell, over the source. */
export const cellSteps = (c: MatrixCell): Step[] => [npmCi, npmRun(`test:${c.kind}`)];

/** Runs one cell; a failure becomes a failed row, never a thrown error. */
async function runCell(ctx: StageContext, c: MatrixCell, signal: AbortSignal): Promise<CellResult> {
  const name = cellName(c);
  let t0 = Date.now(); // reset when the cell gets a job slot: the summary shows run time, not queue time
  try {
    const { steps } = await ctx.engine.run({
      name,
      ...cellContainer(ctx, c),
      setup: cellSetup(ctx, c),
      steps: cellSteps(c),
      log: ctx.cellLog(name),
      signal,
      started: () => {
        t0 = Date.now();
      },
    });
    const cached = steps.every((s) => s.cached);
    return {
      name,
      status: "passed",
      durationMs: Date.now() - t0,
      ...(cached ? { detail: "cached" } : {}),
    };
  } catch (e) {
    const status = signal.aborted ? "skipped" : "failed";
    const detail = signal.aborted ? "cancelled" : (e as Error).message;
    return { name, status, durationMs: Date.now() - t0, detail };
  }
}

/** Every cell at once (as many as --jobs allows); with --fail-fast the first failing cell cancels the rest. */
export const run: StageFn = async (ctx) => {
  const cells = matrixCells(ctx.config, ctx.options.only);
  if (cells.length === 0)
    return {
      status: "skipped",
      detail: "no matrix cells: include/exclude leave none for these versions and kinds",
    };
  const abort = new AbortController();
  ctx.signal.addEventListener("abort", () => abort.abort(), { once: true });
  const results = await Promise.all(
    cells.map(async (c) => {
      const r = await runCell(ctx, c, abort.signal);
      if (r.status === "failed" && ctx.options.failFast) abort.abort();
      return r;
    }),
  );
  const failed = results.filter((r) => r.status === "failed");
  const cancelled = results.filter((r) => r.status === "skipped");
  if (failed.length)
    return {
      status: "failed",
      detail: `${failed.length} of ${results.length} cells failed: ${failed.map((r) => r.name).join(", ")}`,
      cells: results,
    };
  if (cancelled.length) return { status: "skipped", detail: "cancelled", cells: results };
  return { status: "passed", detail: `${results.length} cells`, cells: results };
};

/** One container per cell. */
export const plan: PlanFn = (ctx) =>
  matrixCells(ctx.config, ctx.options.only).map((c) => ({
    name: cellName(c),
    image: cellContainer(ctx, c).image,
    steps: [...cellSetup(ctx, c), ...cellSteps(c)].map(shown),
  }));
