/** Step bookkeeping for the offline image builder: every failure names its image and step. */
import type { ProcessOutput } from "zx";

/** An offline image build failure, naming the image and the step that failed. */
export class ImageStepError extends Error {
  constructor(
    readonly image: string,
    readonly step: string,
    readonly detail: string,
  ) {
    super(`offline image ${image}: step "${step}" failed: ${detail}`);
    this.name = "ImageStepError";
  }
}

/** Several images failed: one line per image and step. */
export class ImagesFailedError extends Error {
  constructor(readonly failures: Error[]) {
    super(
      `${failures.length} offline images failed:\n${failures.map((e) => `  - ${e.message}`).join("\n")}`,
    );
    this.name = "ImagesFailedError";
  }
}

/** Awaits every job (so no child process is orphaned), then throws the first failure. */
export async function all<T extends unknown[]>(
  jobs: { [K in keyof T]: Promise<T[K]> },
): Promise<T> {
  const settled = await Promise.allSettled(jobs);
  const failed = settled.find((r) => r.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  return settled.map((r) => (r as PromiseFulfilledResult<unknown>).value) as T;
}

/** The last lines of a failed process's stderr (or the error message), for a short, useful error. */
export function tail(err: unknown, lines = 8): string {
  const out = err as Partial<ProcessOutput> & { message?: string };
  const text = (typeof out.stderr === "string" && out.stderr.trim()) || out.message || String(err);
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Runs one step for one image and rethrows any failure as an ImageStepError that names both. */
export async function step<T>(image: string, name: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ImageStepError) throw err;
    throw new ImageStepError(image, name, tail(err));
  }
}

/** Memoises an async job by key, so a shared rootfs or tarball is made once per run. */
export function memo<T>(): (key: string, fn: () => Promise<T>) => Promise<T> {
  const jobs = new Map<string, Promise<T>>();
  return (key, fn) => {
    let job = jobs.get(key);
    if (!job) {
      job = fn();
      jobs.set(key, job);
    }
    return job;
  };
}
