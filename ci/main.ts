/**
 * The pipeline CLI: `npx tsx ci/main.ts [stage ...] [options]` (or under `dagger run`).
 * Stages run as soon as what they need has passed; independent stages run in parallel.
 * Exit codes: 0 all selected stages passed, 1 a stage failed, 2 usage or config error, 130 Ctrl-C.
 */
import { randomBytes } from "node:crypto";
import { accessSync, constants, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type CliOptions, HELP, parseCli, UsageError } from "./cli.js";
import { ConfigError, loadConfig, type PipelineConfig } from "./config.js";
import type { Engine, Secret } from "./engine.js";
import { withJobs } from "./engines/jobs.js";
import { EngineUnavailable, openEngine } from "./engines/pick.js";
import { duration, prefixed, write } from "./log.js";
import { planText, type Selected, selectStages } from "./plan.js";
import {
  type RunReport,
  type StageReport,
  textTable,
  writeJson,
  writeStepSummary,
} from "./report.js";
import type { PlanContext, PlannedRun, StageContext, StageModule, StageName } from "./stage.js";

/** The pipeline's own directory, for its modules. */
const CI_DIR = dirname(fileURLToPath(import.meta.url));

/** `ci/doctor.ts`, per docs/architecture.md. */
interface DoctorModule {
  doctor(opts: { fix: boolean; config: PipelineConfig }): Promise<number>;
}

/** `ci/stages/images.ts`, per docs/architecture.md. */
interface ImagesModule {
  offlineImages(opts: {
    refs: { node: string; prometheus: string; alertmanager: string };
    nodeVersions: string[];
    buildNodeVersion: string;
    platforms: string[];
    force: boolean;
    log: (line: string) => void;
  }): Promise<void>;
}

/** A usage, config or environment error: message printed, exit 2. */
class Exit2 extends Error {}

/** Imports `ci/<path>.ts`, or says clearly that the file is missing. */
async function importModule<T>(path: string, what: string): Promise<T> {
  if (!existsSync(join(CI_DIR, `${path}.ts`)))
    throw new Error(`${what}: ci/${path}.ts is missing (not written yet?)`);
  return (await import(`./${path}.js`)) as T;
}

/** The extra CA bundle from --ca-file or the host's NODE_EXTRA_CA_CERTS, as a secret file named npm_ca. */
function caSecret(opts: CliOptions): Secret | undefined {
  const file = opts.caFile ?? process.env.NODE_EXTRA_CA_CERTS;
  if (!file) return undefined;
  const from = opts.caFile ? "--ca-file" : "NODE_EXTRA_CA_CERTS";
  try {
    accessSync(file, constants.R_OK);
  } catch {
    throw new Exit2(`${from}: cannot read CA bundle "${file}"`);
  }
  return { name: "npm_ca", file: resolve(file) };
}

/** The config with --node and --platform applied. */
function withOverrides(config: PipelineConfig, opts: CliOptions): PipelineConfig {
  return {
    ...config,
    node: opts.node ?? config.node,
    platforms: opts.platforms ?? config.platforms,
  };
}

/** `--plan`: each stage's containers from its module's plan(), without running anything. */
async function printPlan(selected: Selected[], ctx: PlanContext, skip: StageName[]): Promise<void> {
  const runs = new Map<StageName, PlannedRun[] | string>();
  for (const { stage } of selected) {
    try {
      const mod = await importModule<StageModule>(`stages/${stage}`, `stage ${stage}`);
      runs.set(
        stage,
        mod.plan ? await mod.plan(ctx) : "(this stage does not describe its containers)",
      );
    } catch (e) {
      runs.set(stage, `(cannot plan: ${(e as Error).message})`);
    }
  }
  write(planText(selected, runs, skip));
}

/** Runs the selected stages on the engine, each after its dependencies; returns the report. */
async function runStages(
  selected: Selected[],
  base: Omit<StageContext, "log" | "cellLog">,
  abort: AbortController,
): Promise<StageReport[]> {
  const done = new Map<StageName, Promise<StageReport & { blocked?: boolean }>>();
  for (const { stage, needs } of selected) {
    const run = async (): Promise<StageReport & { blocked?: boolean }> => {
      const deps = await Promise.all(needs.map((d) => done.get(d)));
      const bad = needs.filter((_, i) => deps[i]?.status === "failed" || deps[i]?.blocked);
      if (bad.length)
        return {
          stage,
          status: "skipped",
          durationMs: 0,
          detail: `needs ${bad.join(", ")}`,
          blocked: true,
        };
      if (abort.signal.aborted)
        return { stage, status: "skipped", durationMs: 0, detail: "cancelled", blocked: true };
      const log = prefixed(stage);
      const ctx: StageContext = { ...base, log, cellLog: (cell) => prefixed(stage, cell) };
      const t0 = Date.now();
      log("started");
      let report: StageReport;
      try {
        const mod = await importModule<StageModule>(`stages/${stage}`, `stage ${stage}`);
        report = { stage, ...(await mod.run(ctx)), durationMs: Date.now() - t0 };
      } catch (e) {
        report = {
          stage,
          status: "failed",
          durationMs: Date.now() - t0,
          detail: (e as Error).message,
        };
      }
      log(
        `${report.status} in ${duration(report.durationMs)}${report.detail ? `: ${report.detail}` : ""}`,
      );
      if (report.status === "failed" && base.options.failFast) abort.abort();
      return report;
    };
    done.set(stage, run());
  }
  return Promise.all(done.values());
}

/** Runs `images` or `doctor`, the two commands beside the stages. */
async function runCommand(opts: CliOptions, config: PipelineConfig): Promise<number> {
  if (opts.command === "doctor") {
    const { doctor } = await importModule<DoctorModule>("doctor", "doctor");
    return doctor({ fix: opts.fix, config });
  }
  if (!opts.offline)
    throw new Exit2(
      "images: only `images --offline` is supported (builds stand-ins for the refs in the config)",
    );
  const { offlineImages } = await importModule<ImagesModule>("stages/images", "images");
  await offlineImages({
    refs: config.images,
    nodeVersions: config.node,
    buildNodeVersion: config.image.nodeVersion,
    platforms: config.platforms,
    force: opts.force,
    log: prefixed("images"),
  });
  return 0;
}

/** The whole CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const opts = parseCli(argv);
  if (opts.command === "help") {
    write(`${HELP}\n`);
    return 0;
  }
  const config = withOverrides(await loadConfig(opts.config), opts);
  if (opts.command !== "run") return runCommand(opts, config);

  const selected = selectStages(opts.stages, opts.skip);
  if (selected.length === 0) throw new Exit2("nothing to run: every selected stage is --skip'ped");
  const options = {
    only: opts.only,
    failFast: opts.failFast,
    push: opts.push,
    down: opts.down,
    volumes: opts.volumes,
    ...(opts.env ? { env: opts.env } : {}),
  };
  const ca = caSecret(opts);
  const shared = { config, options, root: process.cwd(), ...(ca ? { ca } : {}) };
  if (opts.plan) {
    await printPlan(selected, shared, opts.skip);
    return 0;
  }

  const runId = `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const engine = withJobs(
    await openEngine(opts.engine, runId, { cache: !opts.noCache }),
    opts.jobs,
  );
  const abort = new AbortController();
  const interrupt = onInterrupt(engine, abort);
  const t0 = Date.now();
  write(
    `[pipeline] run ${runId} on ${engine.name}, ${opts.jobs} job(s) at once: ${selected.map((s) => s.stage).join(", ")}\n`,
  );
  let stages: (StageReport & { blocked?: boolean })[];
  try {
    stages = await runStages(selected, { ...shared, engine, runId, signal: abort.signal }, abort);
  } finally {
    await engine.close();
  }
  if (interrupt.closing) {
    await interrupt.closing;
    return 130;
  }
  // Skipped stages that would otherwise have run are listed, so the summary says why they are missing.
  for (const { stage } of selectStages(opts.stages, []))
    if (opts.skip.includes(stage))
      stages.push({ stage, status: "skipped", durationMs: 0, detail: "--skip" });
  const failed = stages.some((s) => s.status === "failed");
  const report: RunReport = {
    runId,
    engine: engine.name,
    status: failed ? "failed" : "passed",
    durationMs: Date.now() - t0,
    stages: stages.map(({ blocked: _, ...s }) => s),
  };
  write(`\n${textTable(report)}`);
  await writeStepSummary(report);
  if (opts.json) await writeJson(report, opts.json);
  return failed ? 1 : 0;
}

/** Ctrl-C / SIGTERM: abort every run, remove the engine's containers, networks and volumes, exit 130. */
function onInterrupt(engine: Engine, abort: AbortController): { closing?: Promise<void> } {
  const state: { closing?: Promise<void> } = {};
  const handler = (signal: NodeJS.Signals) => {
    if (state.closing) process.exit(130); // a second Ctrl-C does not wait for cleanup
    write(`\n[pipeline] ${signal}: stopping and cleaning up\n`);
    abort.abort();
    state.closing = engine.close();
    state.closing.finally(() => process.exit(130));
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return state;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // A reader that went away (a closed pipe) must not crash the run before it cleans up.
  for (const s of [process.stdout, process.stderr]) s.on("error", () => {});
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: Error) => {
      const known =
        e instanceof UsageError ||
        e instanceof ConfigError ||
        e instanceof EngineUnavailable ||
        e instanceof Exit2;
      process.stderr.write(`ci/main.ts: ${e.message}\n`);
      if (e instanceof UsageError) process.stderr.write("Run with --help for usage.\n");
      if (!known) process.stderr.write(`${e.stack}\n`);
      process.exit(known ? 2 : 1);
    },
  );
}
