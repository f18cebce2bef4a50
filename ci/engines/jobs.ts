/**
 * `--jobs N`: at most N containers and image builds at once across the whole run, like `make -j` or a
 * GitHub matrix's `max-parallel`. Lint, every test cell and every platform build share the same slots, so a
 * 2-core laptop is not asked to run nine containers at once (timing-sensitive suites then fail for load
 * alone). Exports, loads and services take no slot: they are short, or others wait on them.
 *
 * On Dagger the engine schedules the work itself and `build` is lazy, so the cap bounds what the pipeline
 * asks for at once rather than what the engine runs.
 */
import { availableParallelism } from "node:os";
import pLimit from "p-limit";
import type { Engine } from "../engine.js";
import { StepFailed } from "./errors.js";

/** The default: one job per CPU. */
export const defaultJobs = (): number => availableParallelism();

/** The engine with `run` and `build` queued behind `jobs` slots. */
export function withJobs(engine: Engine, jobs: number): Engine {
  const slot = pLimit(jobs);
  return {
    name: engine.name,
    run: (spec) => {
      if (slot.activeCount >= jobs) spec.log?.(`queued: all ${jobs} job slots are busy (--jobs)`);
      return slot(() => {
        // Cancelled (--fail-fast, Ctrl-C) while queued: never start the container.
        if (spec.signal?.aborted) throw new StepFailed(spec.name, "queued", -1, "");
        spec.started?.();
        return engine.run(spec);
      });
    },
    build: (spec) => slot(() => engine.build(spec)),
    exportImage: (variants, tarPath) => engine.exportImage(variants, tarPath),
    publishImage: (variants, ref, auth) => engine.publishImage(variants, ref, auth),
    loadImage: (image, tag) => engine.loadImage(image, tag),
    startService: (spec) => engine.startService(spec),
    close: () => engine.close(),
  };
}
