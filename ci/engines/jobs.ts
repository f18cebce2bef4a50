/**
 * `--jobs N`: at most N containers and image builds at once across the whole run, like `make -j` or a
 * GitHub matrix's `max-parallel`. Lint, every test cell and every platform build share the same slots, so a
 * 2-core laptop is not asked to run nine containers at once (timing-sensitive suites then fail for load
 * alone). Exports, loads and services take no slot: they are short, or others wait on them.
 *
 * Slots go out by priority, then in arrival order: the pipeline gives earlier waves and, within a wave,
 * earlier stages the higher priority, so the quick checks (lint) start before the long test cells.
 *
 * On Dagger the engine schedules the work itself and `build` is lazy, so the cap bounds what the pipeline
 * asks for at once rather than what the engine runs.
 */
import PQueue from "p-queue";
import type { BuildSpec, Engine } from "../engine.js";
import { StepFailed } from "./errors.js";

/** What a queued run or build may carry: a progress sink, and queue and start callbacks. */
type Queued = Pick<BuildSpec, "log" | "queued" | "started">;

/** The run's slots, and the engine as each stage sees it: its runs and builds queued at its priority. */
export interface JobSlots {
  at(priority: number): Engine;
}

/** `jobs` slots in front of `engine`. */
export function jobSlots(engine: Engine, jobs: number): JobSlots {
  const queue = new PQueue({ concurrency: jobs });
  /** Runs `work` in a slot, saying so when it must wait; `started` marks when it gets one. */
  const inSlot = <T>(spec: Queued, priority: number, work: () => Promise<T>): Promise<T> => {
    if (queue.pending >= jobs) {
      spec.log?.(`queued: all ${jobs} job slots are busy (--jobs)`);
      spec.queued?.();
    }
    return queue.add(
      () => {
        spec.started?.();
        return work();
      },
      { priority },
    );
  };
  return {
    at: (priority) => ({
      name: engine.name,
      capabilities: engine.capabilities,
      run: (spec) =>
        inSlot(spec, priority, async () => {
          // Cancelled (--fail-fast, Ctrl-C) while queued: never start the container.
          if (spec.signal?.aborted) throw new StepFailed(spec.name, "queued", -1, "");
          try {
            return await engine.run(spec);
          } catch (e) {
            // Still holding the slot: a --fail-fast abort here lands before the next queued run starts.
            spec.failed?.(e);
            throw e;
          }
        }),
      build: (spec) => inSlot(spec, priority, () => engine.build(spec)),
      exportImage: (variants, tarPath) => engine.exportImage(variants, tarPath),
      publishImage: (variants, ref, opts) => engine.publishImage(variants, ref, opts),
      loadImage: (image, tag) => engine.loadImage(image, tag),
      dockerClient: (spec) => engine.dockerClient(spec),
      // A span takes no slot: what it wraps queues for one itself.
      span: (name, fn, failure) => engine.span(name, fn, failure),
      close: () => engine.close(),
    }),
  };
}

/** The engine with every run and build queued behind `jobs` slots, at one priority. */
export const withJobs = (engine: Engine, jobs: number): Engine => jobSlots(engine, jobs).at(0);
