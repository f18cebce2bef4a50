/**
 * `--jobs N`: at most N containers and image builds at once across the whole run, like `make -j` or a
 * GitHub matrix's `max-parallel`. Lint, every test cell and every platform build share the same slots, so a
 * 2-core laptop is not asked to run nine containers at once (timing-sensitive suites then fail for load
 * alone). Exports, loads and services take no slot: they are short, or others wait on them.
 *
 * On Dagger the engine schedules the work itself and `build` is lazy, so the cap bounds what the pipeline
 * asks for at once rather than what the engine runs.
 */
import pLimit from "p-limit";
import type { BuildSpec, Engine } from "../engine.js";
import { StepFailed } from "./errors.js";

/** What a queued run or build may carry: a progress sink, and queue and start callbacks. */
type Queued = Pick<BuildSpec, "log" | "queued" | "started">;

/** The engine with `run` and `build` queued behind `jobs` slots. */
export function withJobs(engine: Engine, jobs: number): Engine {
  const slot = pLimit(jobs);
  /** Runs `work` in a slot, saying so when it must wait; `started` marks when it gets one. */
  const inSlot = <T>(spec: Queued, work: () => Promise<T>): Promise<T> => {
    if (slot.activeCount >= jobs) {
      spec.log?.(`queued: all ${jobs} job slots are busy (--jobs)`);
      spec.queued?.();
    }
    return slot(() => {
      spec.started?.();
      return work();
    });
  };
  return {
    name: engine.name,
    capabilities: engine.capabilities,
    run: (spec) =>
      inSlot(spec, async () => {
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
    build: (spec) => inSlot(spec, () => engine.build(spec)),
    exportImage: (variants, tarPath) => engine.exportImage(variants, tarPath),
    publishImage: (variants, ref, opts) => engine.publishImage(variants, ref, opts),
    loadImage: (image, tag) => engine.loadImage(image, tag),
    dockerClient: (spec) => engine.dockerClient(spec),
    close: () => engine.close(),
  };
}
