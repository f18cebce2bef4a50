/**
 * The Docker engine: a Docker daemon through the docker CLI. Each run is one container kept alive with
 * `sleep`, the source copied in as a tar stream (never bind-mounted), and each step a `docker exec`; passing
 * steps are snapshotted (step-cache.ts). Everything made carries the label `codex-ci.run=<runId>` and
 * `close()` removes it by that label. Cache volumes carry `codex-ci.cache=1` instead and persist.
 */
import { rmSync } from "node:fs";
import type {
  BuildSpec,
  BuiltImage,
  DockerClient,
  DockerClientSpec,
  Engine,
  EngineSettings,
  PublishOptions,
  RunResult,
  RunSpec,
  StepResult,
} from "../../engine.js";
import { StepFailed } from "../errors.js";
import { buildImage, pushImage, saveImage } from "./build.js";
import { removeRun } from "./cleanup.js";
import { DockerCli, slug } from "./cli.js";
import { Containers } from "./container.js";
import { localDockerClient } from "./docker-client.js";
import { startReaper } from "./reaper.js";
import { type StartedService, startService } from "./services.js";
import { cachedPrefix, commit, pruneSnapshots, snapshotTags } from "./step-cache.js";

export { CACHE_LABEL, RUN_LABEL } from "./cli.js";
export { SNAPSHOT_LABEL, SNAPSHOT_REPO } from "./step-cache.js";

/** The Docker engine for one pipeline run. */
class DockerEngine implements Engine {
  readonly name = "docker" as const;
  readonly capabilities = { multiPlatformExport: false, loadsImages: true };
  private readonly docker: DockerCli;
  private readonly containers: Containers;
  private readonly buildTags = new Set<string>();
  private seq = 0;
  private closing?: Promise<void>;

  constructor(
    readonly runId: string,
    private readonly cache: boolean,
    private readonly settings: EngineSettings,
  ) {
    this.docker = new DockerCli(settings.dockerBin);
    this.containers = new Containers(this.docker, runId);
    startReaper(settings.dockerBin, runId);
  }

  /**
   * Runs the setup steps, copies the source in, then runs the steps, in one fresh container that is then
   * removed. A rerun starts from the last snapshot whose inputs are unchanged.
   */
  async run(spec: RunSpec): Promise<RunResult> {
    const log = spec.log ?? (() => {});
    const setup = spec.setup ?? [];
    const all = [...setup, ...spec.steps];
    const tags = this.cache ? await snapshotTags(this.docker, spec, all, setup.length) : [];
    const done = await cachedPrefix(this.docker, tags);
    const steps: StepResult[] = all.slice(0, done).map((s) => {
      spec.step?.(s.name, true);
      log(`$ ${s.args.join(" ")}   (cached)`);
      return { name: s.name, exitCode: 0, stdout: "", stderr: "", durationMs: 0, cached: true };
    });
    if (done === all.length && !spec.outputs) return { steps };
    // The source goes in at creation, unless a snapshot already has it or setup steps must run first.
    const sourceLater = done < setup.length && spec.source;
    const from = {
      ...spec,
      ...(done > 0 ? { image: tags[done - 1] as string } : {}),
      ...(done > setup.length || sourceLater ? { source: undefined } : {}),
    };
    const services: StartedService[] = [];
    let network: string | undefined;
    let name = "";
    let clean = true; // snapshot only while every step so far passed
    try {
      if (spec.services?.length) {
        network = await this.containers.network(spec.name);
        for (const svc of spec.services) {
          spec.step?.(`service ${svc.hostname}`);
          services.push(await startService(this.docker, this.containers, svc, network, log));
        }
      }
      name = await this.containers.start(from, spec.name, ["sleep", "86400"], {
        ...(network ? { network } : {}),
      });
      for (const [i, step] of all.entries()) {
        if (i < done) continue;
        if (i === setup.length && sourceLater) {
          const { from: dir = ".", to, exclude = [] } = sourceLater;
          await this.containers.copySource(name, dir, to, exclude);
        }
        if (spec.signal?.aborted) throw new StepFailed(spec.name, step.name, -1, "");
        const r = await this.containers.exec(name, spec, step);
        steps.push(r);
        if (spec.signal?.aborted) throw new StepFailed(spec.name, step.name, -1, "");
        if (r.exitCode !== 0 && !step.allowFailure)
          throw new StepFailed(spec.name, step.name, r.exitCode, `${r.stdout}\n${r.stderr}`);
        clean &&= r.exitCode === 0;
        if (i < tags.length && clean) await commit(this.docker, name, spec.name, tags[i] as string);
      }
      for (const [from, to] of Object.entries(spec.outputs ?? {}))
        await this.docker.must(["cp", `${name}:${from}`, to]);
      return { steps };
    } finally {
      if (!this.containers.closed) {
        if (name) await this.containers.remove(name);
        for (const svc of services) await svc.stop();
        if (network) await this.docker.try(["network", "rm", network], { kind: "short" });
      }
      if (tags.length) await pruneSnapshots(this.docker, spec.name, tags);
    }
  }

  /** Builds one platform with BuildKit; the result is a run-scoped tag removed by close(). */
  async build(spec: BuildSpec): Promise<BuiltImage> {
    const tag = `codex-ci-build:${this.runId}-${slug(spec.platform)}-${++this.seq}`;
    const image = await buildImage(this.docker, spec, tag, {
      remote: Boolean(this.settings.dockerHost),
      secretFile: (s) => this.containers.buildSecretFile(s),
    });
    this.buildTags.add(tag);
    return image;
  }

  exportImage(variants: BuiltImage[], tarPath: string): Promise<void> {
    return saveImage(this.docker, variants, tarPath);
  }

  publishImage(variants: BuiltImage[], ref: string, opts: PublishOptions = {}): Promise<string> {
    return pushImage(this.docker, variants, ref, opts);
  }

  /** Tags the variant in the daemon (it is already there). */
  async loadImage(image: BuiltImage, tag: string): Promise<void> {
    await this.docker.must(["tag", image.ref, tag]);
  }

  dockerClient(spec: DockerClientSpec): DockerClient {
    return localDockerClient(this.settings.dockerBin, spec);
  }

  /** No tracer here: the summary's rows and the prefixed log lines are the Docker engine's view. */
  span<T>(_name: string, fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  /** Stops running docker clients, then removes every container, network and volume labelled with this run. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.containers.closed = true;
      await this.docker.settle();
      await removeRun(this.docker, this.runId, [...this.buildTags]);
      if (this.containers.secretDir)
        rmSync(this.containers.secretDir, { recursive: true, force: true });
    })();
    return this.closing;
  }
}

/** Opens the Docker engine for one run. */
export async function openDocker(
  runId: string,
  opts: { cache: boolean; settings: EngineSettings },
): Promise<Engine> {
  return new DockerEngine(runId, opts.cache, opts.settings);
}
