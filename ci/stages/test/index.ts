/**
 * test: the matrix of Node versions × test kinds, each cell `npm ci` + `npm run test:<kind>` in its own
 * container from node:<v>-bookworm-slim, cells in parallel up to --jobs, every failing cell reported.
 *
 * e2e cells use the host's Docker socket, not a docker:dind service: dind needs a privileged container and
 * an image no registry here serves, and it would see none of the offline images or the layer cache the host
 * already has. The host socket costs isolation, so e2e tests label and remove what they create. The source
 * sits at the host repo's own path, so bind mounts the tests ask the host daemon for resolve to the same files.
 */
import { type MatrixCell, matrixCells } from "../../config.js";
import type { RunSpec } from "../../engine.js";
import { summarize, timed } from "../../lib/cells.js";
import { nodeContainer, npmCi, npmRun, toolSteps } from "../../lib/node-env.js";
import type { PlanContext, Stage, StageContext, StageResult } from "../../stage.js";

/** "node22/unit". */
export const cellName = (c: MatrixCell): string => `node${c.node}/${c.kind}`;

/** One cell's run: tools (cached apart from the source), then `npm ci` and the kind's tests over the source. */
export function cellRun(ctx: PlanContext, c: MatrixCell): RunSpec {
  const setup = toolSteps([
    ...ctx.config.test.packages,
    ...(c.kind === "e2e" ? ctx.config.test.e2ePackages : []),
  ]);
  const steps = [npmCi, npmRun(`test:${c.kind}`)];
  if (c.kind !== "e2e") return { name: cellName(c), ...nodeContainer(ctx, c.node), setup, steps };
  const base = nodeContainer(ctx, c.node, ctx.root);
  return {
    name: cellName(c),
    ...base,
    setup,
    steps,
    dockerSocket: true,
    // Docker-outside-of-docker: ports and /tmp bind mounts the tests ask the host daemon for resolve alike.
    hostNetwork: true,
    hostPaths: ["/tmp"],
    env: { ...base.env, REQUIRE_DOCKER: "1" },
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
      const { cell, value } = await timed(
        spec.name,
        (started) =>
          ctx.engine.run({
            ...spec,
            log: ctx.cellLog(spec.name),
            signal: abort.signal,
            started,
          }),
        abort.signal,
      );
      if (value?.steps.every((s) => s.cached)) cell.detail = "cached";
      if (cell.status === "failed" && ctx.options.failFast) abort.abort();
      return cell;
    }),
  );
  return summarize(cells, `${cells.length} cells`);
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
