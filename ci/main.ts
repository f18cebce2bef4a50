/**
 * The pipeline CLI: `npx tsx ci/main.ts [stage ...] [options]` (or under `dagger run`), plus the `doctor`
 * and `images --offline` commands. argv becomes a command, the config is loaded once with the command
 * line's overrides, the environment is read once, then the command runs.
 * Exit codes: 0 all selected stages passed, 1 a stage failed, 2 usage or config error, 130 interrupted.
 */
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Command,
  HELP,
  type Overrides,
  type ProgressChoice,
  parseCommand,
  UsageError,
} from "./command.js";
import { ConfigError, loadConfig, type PipelineConfig } from "./config.js";
import { chooseMode, Display, type Group, type Wrap } from "./display/index.js";
import { doctor } from "./doctor/index.js";
import type { Engine } from "./engine.js";
import { EngineUnavailable, openEngine } from "./engines/index.js";
import { jobSlots } from "./engines/jobs.js";
import { offlineImages } from "./images/index.js";
import { rowFailure } from "./lib/cells.js";
import { chooseDockerBin } from "./lib/docker-bin.js";
import { write } from "./lib/log.js";
import { standIns } from "./lib/stand-ins.js";
import { runStages } from "./pipeline.js";
import { jobImages, planText, selectStages, waves } from "./plan.js";
import {
  type RunReport,
  type StageReport,
  textTable,
  writeJson,
  writeStepSummary,
} from "./report.js";
import { readOutputSettings, readSettings, SettingsError } from "./settings.js";
import type { Job, PlanContext } from "./stage.js";
import { type StageName, stageNamed } from "./stages/index.js";

/** The config with --node and --platform applied. */
function withOverrides(config: PipelineConfig, o: Overrides): PipelineConfig {
  return { ...config, node: o.node ?? config.node, platforms: o.platforms ?? config.platforms };
}

/** The display of a command: its mode from `--progress`, the environment and stdout; logs under reports/. */
function openDisplay(
  choice: ProgressChoice,
  o: { json?: boolean; title: string; jobs?: number; wrap?: Wrap },
): Display {
  const out = readOutputSettings(process.env);
  const mode = chooseMode(choice, {
    isTTY: process.stdout.isTTY === true,
    github: out.github,
    dumbTerminal: out.dumbTerminal,
    json: o.json === true,
  });
  return new Display({
    mode,
    color: !out.noColor,
    logDir: join(process.cwd(), "reports", "logs"),
    title: o.title,
    ...(o.jobs ? { jobs: o.jobs } : {}),
    ...(o.wrap ? { wrap: o.wrap } : {}),
  });
}

/** `images --offline`: stand-ins for the config's registry images, one row each on the display. */
async function imagesCommand(
  config: PipelineConfig,
  force: boolean,
  display: Display,
  platforms = config.platforms,
) {
  const g = display.group("images");
  const t0 = Date.now();
  g.start();
  try {
    await offlineImages({
      refs: config.images,
      nodeVersions: config.node,
      buildNodeVersion: config.image.nodeVersion,
      platforms,
      force,
      dockerBin: await chooseDockerBin(process.env),
      log: g.log,
      rows: g.row,
    });
    g.end({ status: "passed", durationMs: Date.now() - t0 });
  } catch (e) {
    g.end({ status: "failed", durationMs: Date.now() - t0, detail: (e as Error).message });
    throw e;
  }
  return 0;
}

/** `--plan`: each stage's jobs from its own description, without running anything. */
async function printPlan(
  selected: ReturnType<typeof selectStages>,
  ctx: PlanContext,
  skip: StageName[],
  dockerBin: string,
): Promise<void> {
  const jobs = new Map<StageName, Job[] | string>();
  for (const { stage } of selected)
    jobs.set(
      stage,
      await stageNamed(stage)
        .describe(ctx)
        .catch((e: Error) => `(cannot plan: ${e.message})`),
    );
  const images = [...jobs.values()].flatMap((j) => (typeof j === "string" ? [] : jobImages(j)));
  write(planText(selected, jobs, skip, await standIns(images, dockerBin)));
}

/** Runs the stages; returns the exit code. */
async function runCommand(
  cmd: Extract<Command, { kind: "run" }>,
  config: PipelineConfig,
): Promise<number> {
  const selected = selectStages(cmd.stages, cmd.skip, cmd.options);
  if (selected.length === 0)
    throw new UsageError("nothing to run: every selected stage is --skip'ped");
  const env = await readSettings(process.env, cmd.caFile);
  const shared: PlanContext = {
    config,
    options: cmd.options,
    settings: env.stages,
    root: process.cwd(),
  };
  if (cmd.plan) {
    await printPlan(selected, shared, cmd.skip, env.engine.dockerBin);
    return 0;
  }

  const runId = env.runId ?? `${Date.now().toString(36)}-${randomBytes(3).toString("hex")}`;
  const engine = await openEngine(cmd.engine, { runId, cache: !cmd.noCache, settings: env.engine });
  // Slots go to earlier waves first and, within a wave, to earlier stages: lint before the test cells.
  const slots = jobSlots(engine, cmd.jobs);
  const order = waves(selected).flat();
  const display = openDisplay(cmd.progress, {
    json: cmd.json !== undefined,
    title: `codex-ci run ${runId} · engine ${engine.name}`,
    jobs: cmd.jobs,
    // Each cell or platform row in a span of its own, under its stage's (on Dagger a node of the TUI).
    wrap: { row: (_stage, name, fn) => engine.span(name, fn, rowFailure) },
  });
  const abort = new AbortController();
  const interrupt = onInterrupt(engine, abort, display);
  const t0 = Date.now();
  display.line(
    `[pipeline] run ${runId} on ${engine.name}, ${cmd.jobs} job(s) at once: ${selected.map((s) => s.stage).join(", ")}`,
  );
  let stages: StageReport[];
  try {
    stages = await runStages(
      selected,
      { ...shared, runId, signal: abort.signal },
      (stage) => slots.at(order.length - order.indexOf(stage)),
      abort,
      display,
    );
  } finally {
    // The board stops before anything else is printed; then the engine removes what it made.
    display.stop();
    await engine.close();
  }
  await display.close();
  if (interrupt.closing) {
    await interrupt.closing;
    return 130;
  }
  interrupt.dispose();
  // Stages left out with --skip that would otherwise have run are listed, so the summary says why.
  for (const { stage } of selectStages(cmd.stages, [], cmd.options))
    if (cmd.skip.includes(stage))
      stages.push({ stage, status: "skipped", durationMs: 0, detail: "--skip" });
  const failed = stages.some((s) => s.status === "failed");
  const report: RunReport = {
    runId,
    engine: engine.name,
    status: failed ? "failed" : "passed",
    durationMs: Date.now() - t0,
    stages,
  };
  write(`\n${textTable(report)}`);
  if (env.stepSummary) await writeStepSummary(report, env.stepSummary);
  if (cmd.json) await writeJson(report, cmd.json);
  return failed ? 1 : 0;
}

/** `doctor [--fix]`: its fixes (and the offline images they build) are rows of a "setup" group. */
async function doctorCommand(fix: boolean, config: PipelineConfig, progress: ProgressChoice) {
  const display = openDisplay(progress, { title: "codex-ci setup (doctor --fix)" });
  let setup: Group | undefined;
  try {
    return await doctor({
      fix,
      config,
      buildImages: (platforms) => imagesCommand(config, false, display, platforms).then(() => {}),
      log: (line) => display.print(`${line}\n`),
      fixes: {
        row: (name, fn, opts) => {
          setup ??= display.group("setup");
          return setup.row(name, fn, opts);
        },
        done: () => display.stop(),
      },
    });
  } finally {
    await display.close();
  }
}

/** The whole CLI; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const cmd = parseCommand(argv);
  if (cmd.kind === "help") {
    write(`${HELP}\n`);
    return 0;
  }
  const loaded = await loadConfig(cmd.config);
  if (cmd.kind === "doctor") return doctorCommand(cmd.fix, loaded, cmd.progress);
  const config = withOverrides(loaded, cmd.overrides);
  if (cmd.kind === "images") {
    const display = openDisplay(cmd.progress, { title: "codex-ci images --offline" });
    try {
      return await imagesCommand(config, cmd.force, display);
    } finally {
      await display.close();
    }
  }
  return runCommand(cmd, config);
}

/**
 * Ctrl-C / SIGTERM: abort every run, then remove what the engine made and exit 130. Under npm or npx the
 * signal can arrive twice (from the terminal's process group and relayed by the wrapper); only a second
 * signal after a pause forces the exit.
 */
function onInterrupt(
  engine: Engine,
  abort: AbortController,
  display: Display,
): { closing?: Promise<void>; dispose(): void } {
  const state: { closing?: Promise<void>; at?: number; dispose(): void } = {
    dispose: () => {
      process.off("SIGINT", handler);
      process.off("SIGTERM", handler);
    },
  };
  const handler = (signal: NodeJS.Signals) => {
    if (state.closing) {
      if (Date.now() - (state.at ?? 0) > 1000) {
        write(`\n[pipeline] ${signal} again: exiting without waiting for cleanup\n`);
        process.exit(130);
      }
      return;
    }
    // The board is left as it was and the cursor shown before anything else is printed.
    display.stop();
    write(`\n[pipeline] ${signal}: stopping and cleaning up\n`);
    state.at = Date.now();
    abort.abort();
    state.closing = engine.close();
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return state;
}

/** What the CLI prints on stderr for an error main() threw, and its exit code: 2 usage or config, 1 a bug. */
export function failure(e: Error): { code: number; stderr: string } {
  const known =
    e instanceof UsageError ||
    e instanceof ConfigError ||
    e instanceof EngineUnavailable ||
    e instanceof SettingsError;
  let stderr = `ci/main.ts: ${e.message}\n`;
  if (e instanceof UsageError) stderr += "Run with --help for usage.\n";
  if (!known) stderr += `${e.stack}\n`;
  return { code: known ? 2 : 1, stderr };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  // A reader that went away (a closed pipe) must not crash the run before it cleans up.
  for (const s of [process.stdout, process.stderr]) s.on("error", () => {});
  main(process.argv.slice(2)).then(
    // main() returns only after the engine is closed, so nothing is left to wait for.
    (code) => process.exit(code),
    (e: Error) => {
      const f = failure(e);
      process.stderr.write(f.stderr);
      process.exit(f.code);
    },
  );
}
