/** Runs the selected stages: each as soon as what it needs has passed, outputs handed on in memory. */
import type { Display, Group } from "./display/index.js";
import type { Engine } from "./engine.js";
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
 * priority); aborts the rest on a failure with --fail-fast. Each stage is a group of the display, which gives
 * its context `log`, `cellLog` and `row`.
 */
export async function runStages(
  selected: Selected[],
  base: Omit<StageContext, "log" | "cellLog" | "row" | "engine">,
  engineFor: (stage: StageName) => Engine,
  abort: AbortController,
  display: Display,
): Promise<StageReport[]> {
  const done = new Map<StageName, Promise<Outcome>>();
  const groups = new Map<StageName, Group>();
  // Every stage is on the board from the start, waiting for what it needs.
  for (const { stage, needs } of selected) {
    const g = display.group(stage);
    if (needs.length) g.waiting(`needs ${needs.join(", ")}`);
    groups.set(stage, g);
  }
  for (const { stage, needs } of selected) {
    const g = groups.get(stage) as Group;
    const run = async (): Promise<Outcome> => {
      const deps = await Promise.all(needs.map((d) => done.get(d) as Promise<Outcome>));
      const bad = needs.filter((_, i) => !deps[i]?.ok);
      const skip = (detail: string): Outcome => {
        const report: StageReport = { stage, status: "skipped", durationMs: 0, detail };
        g.end(report);
        return { report, ok: false };
      };
      if (bad.length) return skip(`needs ${bad.join(", ")}`);
      if (abort.signal.aborted) return skip("cancelled");
      const inputs = Object.fromEntries(
        needs.map((d, i) => [d, deps[i]?.output] as const).filter(([, o]) => o !== undefined),
      );
      const ctx: StageContext = {
        ...base,
        engine: engineFor(stage),
        log: g.log,
        cellLog: g.cellLog,
        row: g.row,
      };
      const t0 = Date.now();
      g.start();
      let outcome: Outcome;
      try {
        // Each stage reads the inputs it declares; the map holds exactly the outputs of its needs. It runs in a
        // span of its own (on Dagger a node of the TUI over its cells), failed when the stage fails.
        const { output, intended, ...result } = await g.run(() =>
          ctx.engine.span(
            stage,
            () => stageNamed(stage).run(ctx, inputs as never),
            (r) => (r.status === "failed" ? r.detail || "failed" : undefined),
          ),
        );
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
      g.end(outcome.report);
      if (outcome.report.status === "failed" && base.options.failFast) abort.abort();
      return outcome;
    };
    done.set(stage, run());
  }
  return (await Promise.all(done.values())).map((o) => o.report);
}
