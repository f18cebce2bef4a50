/**
 * The docker client the Docker engine drives (zx, not dockerode: BuildKit builds with `--secret`/`--platform`
 * and `docker manifest` have no dockerode equivalent, and the CLI honours DOCKER_HOST, contexts and credential
 * helpers). Every call is tracked, so closing the run can stop long ones and wait for short ones.
 */
import type { ProcessPromise } from "zx";
import { kill, type ProcessOptions, type Ran, start } from "../../lib/process.js";

/** The label every container, network, volume and build tag of a run carries. */
export const RUN_LABEL = "codex-ci.run";
/** The label of persistent cache volumes. */
export const CACHE_LABEL = "codex-ci.cache";

/** A lowercase name fragment Docker accepts. */
export const slug = (s: string): string =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

/** A failed docker command: its argv (never its environment or input) and output. */
export class DockerFailed extends Error {
  override name = "DockerFailed";
  readonly stderr: string;
  constructor(args: string[], r: Ran) {
    super(
      `docker ${args[0]} failed (exit ${r.exitCode}): ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" | ")}`,
    );
    this.stderr = r.stderr;
  }
}

/** What a call is: `short` calls make resources (create, start) and are waited for, never killed midway. */
type Kind = "short" | "long";

export class DockerCli {
  private readonly calls = new Map<ProcessPromise, Kind>();

  constructor(readonly bin: string) {}

  /** Starts `docker args…`; its own process group, so Ctrl-C reaches only the pipeline, which stops it. */
  start(args: string[], opts: ProcessOptions & { kind?: Kind } = {}): ProcessPromise {
    const { kind = "long", ...rest } = opts;
    const p = start([this.bin, ...args], {
      ...rest,
      detached: true,
      env: { DOCKER_BUILDKIT: "1", ...rest.env },
    });
    this.calls.set(p, kind);
    p.finally(() => this.calls.delete(p)).catch(() => {});
    return p;
  }

  /** Runs `docker args…` to the end; the outcome, never a throw. */
  async try(args: string[], opts: ProcessOptions & { kind?: Kind } = {}): Promise<Ran> {
    try {
      const r = await this.start(args, opts);
      return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      return { exitCode: -1, stdout: "", stderr: (e as Error).message };
    }
  }

  /** Runs `docker args…`; its trimmed stdout, or a DockerFailed. */
  async must(args: string[], opts: ProcessOptions & { kind?: Kind } = {}): Promise<string> {
    const r = await this.try(args, opts);
    if (r.exitCode !== 0) throw new DockerFailed(args, r);
    return r.stdout.trim();
  }

  /** Stops every long call now, and waits (bounded) for the short ones, whose resources must exist to be removed. */
  async settle(waitMs = 20_000): Promise<void> {
    const short: Promise<unknown>[] = [];
    for (const [p, kind] of this.calls)
      if (kind === "long") kill(p, "SIGKILL");
      else short.push(p.catch(() => {}));
    await Promise.race([Promise.all(short), new Promise((r) => setTimeout(r, waitMs))]);
  }
}
