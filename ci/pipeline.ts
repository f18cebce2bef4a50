/** Runs the selected stages: each as soon as what it needs has passed, outputs handed on in memory. */
import type { Engine } from "./engine.js";
import { duration, prefixed } from "./lib/log.js";
import type { Selected } from "./plan.js";
import type { StageReport } from "./report.js";
import type { StageContext } from "./stage.js";
import { type StageName, stageNamed } from "./stages/index.js";

/** A stage's report, and whether the stages after it may run. */
interface Outcome {
  report: StageReport;
  output?: unknown;
  /** Passed, or skipped on purpose: dependents may run. */
  ok: boolean;
}

/**
 * Runs every selected stage after its dependencies, each on the engine `engineFor` gives it (its `--jobs`
 * priority); aborts the rest on a failure with --fail-fast.
 */
export async function runStages(
  selected: Selected[],
  base: Omit<StageContext, "log" | "cellLog" | "engine">,
  engineFor: (stage: StageName) => Engine,
  abort: AbortController,
): Promise<StageReport[]> {
  const done = new Map<StageName, Promise<Outcome>>();
  for (const { stage, needs } of selected) {
    const run = async (): Promise<Outcome> => {
      const deps = await Promise.all(needs.map((d) => done.get(d) as Promise<Outcome>));
      const bad = needs.filter((_, i) => !deps[i]?.ok);
      if (bad.length)
        return {
          report: { stage, status: "skipped", durationMs: 0, detail: `needs ${bad.join(", ")}` },
          ok: false,
        };
      if (abort.signal.aborted)
        return {
          report: { stage, status: "skipped", durationMs: 0, detail: "cancelled" },
          ok: false,
        };
      const inputs = Object.fromEntries(
        needs.map((d, i) => [d, deps[i]?.output] as const).filter(([, o]) => o !== undefined),
      );
      const log = prefixed(stage);
      const ctx: StageContext = {
        ...base,
        engine: engineFor(stage),
        log,
        cellLog: (cell) => prefixed(stage, cell),
      };
      const t0 = Date.now();
      log("started");
      let outcome: Outcome;
      try {
        // Each stage reads the inputs it declares; the map holds exactly the outputs of its needs.
        const { output, intended, ...result } = await stageNamed(stage).run(ctx, inputs as never);
        outcome = {
          report: { stage, ...result, durationMs: Date.now() - t0 },
          output,
          ok: result.status === "passed" || (result.status === "skipped" && intended === true),
        };
      } catch (e) {
        outcome = {
          report: {
            stage,
            status: "failed",
            durationMs: Date.now() - t0,
            detail: (e as Error).message,
          },
          ok: false,
        };
      }
      const r = outcome.report;
      log(`${r.status} in ${duration(r.durationMs)}${r.detail ? `: ${r.detail}` : ""}`);
      if (r.status === "failed" && base.options.failFast) abort.abort();
      return outcome;
    };
    done.set(stage, run());
  }
  return (await Promise.all(done.values())).map((o) => o.report);
}
