/**
 * The Dagger engine: `@dagger.io/dagger` (0.21.9, pinned) over one `connection()` for the whole run.
 *
 * Cookbook idioms: `dag.host().directory(".", { exclude })` for the source, `dag.cacheVolume` for npm,
 * `withExec([...])` (the image entrypoint is ignored), `dockerBuild({ platform })`, `export` / `publish` with
 * `platformVariants`, `setSecret` + `withSecretVariable` / `withMountedSecret`, `asService` +
 * `withServiceBinding`, `withUnixSocket` for the host daemon and `exportImage` to load into it.
 * Dagger reports a step's output when the step ends (live progress is the `dagger run` TUI).
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import {
  type Container,
  connection,
  type Secret as DaggerSecret,
  dag,
  type Platform,
  ReturnType,
  type Service,
} from "@dagger.io/dagger";
import type {
  BuildSpec,
  BuiltImage,
  ContainerSpec,
  Engine,
  RegistryAuth,
  RunResult,
  RunSpec,
  Secret,
  ServiceHandle,
  ServiceSpec,
  Step,
  StepResult,
} from "../engine.js";
import { DOCKER_SOCKET, onPath } from "../host.js";
import { EngineUnavailable, StepFailed } from "./errors.js";

/**
 * SDK 0.21.9 downloads its CLI on every connect unless a session is present (`dagger run` sets
 * DAGGER_SESSION_PORT) or `_EXPERIMENTAL_DAGGER_CLI_BIN` names a CLI. Point it at a `dagger` on PATH;
 * with neither, fail now rather than after a download that cannot work offline.
 */
export function ensureDaggerReachable(): void {
  if (process.env.DAGGER_SESSION_PORT) return;
  const cli = process.env._EXPERIMENTAL_DAGGER_CLI_BIN || onPath("dagger");
  if (cli) {
    process.env._EXPERIMENTAL_DAGGER_CLI_BIN = cli;
    return;
  }
  throw new EngineUnavailable(
    "--engine dagger: no Dagger session (DAGGER_SESSION_PORT) and no `dagger` CLI on PATH, and the SDK " +
      "must not download one. Install the Dagger CLI (https://docs.dagger.io/install) and run " +
      "`dagger run npx tsx ci/main.ts ...`, or use --engine docker with a local Docker daemon.",
  );
}

/** The Dagger engine for one run, inside an open connection. */
class DaggerEngine implements Engine {
  readonly name = "dagger" as const;
  private readonly services = new Map<ServiceHandle, Service>();
  private readonly built = new Map<string, Container>();
  private readonly secrets = new Map<Secret, Promise<DaggerSecret>>();

  constructor(
    private readonly release: () => Promise<void>,
    /** Set with --no-cache: an env value unique to the run, so Dagger re-runs every exec. */
    private readonly cacheBuster?: string,
  ) {}

  /** A Dagger secret: plaintext only ever goes through `setSecret`. */
  private secret(s: Secret): Promise<DaggerSecret> {
    let made = this.secrets.get(s);
    if (!made) {
      made = (async () =>
        dag.setSecret(s.name, s.value ?? (await readFile(resolve(s.file), "utf8"))))();
      this.secrets.set(s, made);
    }
    return made;
  }

  /** A spec's container without its source: image, files, caches, env, secrets, services, socket, workdir. */
  private async container(spec: ContainerSpec): Promise<Container> {
    let c = dag
      .container(spec.platform ? { platform: spec.platform as Platform } : undefined)
      .from(spec.image);
    if (spec.user) c = c.withUser(spec.user);
    for (const f of spec.files ?? []) c = c.withFile(f.to, dag.host().file(f.from));
    for (const [path, vol] of Object.entries(spec.caches ?? {}))
      c = c.withMountedCache(path, dag.cacheVolume(vol));
    for (const [k, v] of Object.entries(spec.env ?? {})) c = c.withEnvVariable(k, v);
    for (const [k, s] of Object.entries(spec.secretEnv ?? {}))
      c = c.withSecretVariable(k, await this.secret(s));
    for (const [path, s] of Object.entries(spec.secretFiles ?? {}))
      c = c.withMountedSecret(path, await this.secret(s));
    for (const h of spec.services ?? []) {
      const svc = this.services.get(h);
      if (!svc) throw new Error(`service ${h.hostname} was not started by this engine`);
      c = c.withServiceBinding(h.hostname, svc);
    }
    if (spec.dockerSocket)
      c = c.withUnixSocket(DOCKER_SOCKET, dag.host().unixSocket(DOCKER_SOCKET));
    if (spec.hostNetwork || spec.hostPaths?.length)
      process.stderr.write(
        "dagger: host network and host paths are not available in Dagger containers; tests that bind host paths or ports need --engine docker\n",
      );
    if (this.cacheBuster) c = c.withEnvVariable("CODEX_CI_CACHE_BUSTER", this.cacheBuster);
    const workdir = spec.workdir ?? spec.source?.to;
    return workdir ? c.withWorkdir(workdir) : c;
  }

  /** Adds the source tree last, so execs before it are cached apart from source changes. */
  private withSource(c: Container, spec: ContainerSpec): Container {
    if (!spec.source) return c;
    const { from = ".", to, exclude = [] } = spec.source;
    return c.withDirectory(to, dag.host().directory(from, { exclude }));
  }

  /** Appends steps as `withExec`s, reading each one's exit code and output; throws on a failing step. */
  private async execs(c: Container, spec: RunSpec, steps: Step[], results: StepResult[]) {
    const log = spec.log ?? (() => {});
    for (const step of steps) {
      if (spec.signal?.aborted) throw new StepFailed(spec.name, step.name, -1, "");
      log(`$ ${step.args.join(" ")}`);
      const t0 = Date.now();
      for (const [k, v] of Object.entries(step.env ?? {})) c = c.withEnvVariable(k, v);
      c = c.withExec(step.args, { expect: ReturnType.Any });
      for (const k of Object.keys(step.env ?? {})) c = c.withoutEnvVariable(k);
      const [exitCode, stdout, stderr] = await Promise.all([c.exitCode(), c.stdout(), c.stderr()]);
      for (const line of `${stdout}${stderr}`.split("\n").filter(Boolean)) log(line);
      results.push({ name: step.name, exitCode, stdout, stderr, durationMs: Date.now() - t0 });
      if (exitCode !== 0 && !step.allowFailure)
        throw new StepFailed(spec.name, step.name, exitCode, `${stdout}\n${stderr}`);
    }
    return c;
  }

  /** Runs the setup steps, adds the source, then runs the steps: one chain of `withExec`. */
  async run(spec: RunSpec): Promise<RunResult> {
    const steps: StepResult[] = [];
    let c = await this.execs(await this.container(spec), spec, spec.setup ?? [], steps);
    c = await this.execs(this.withSource(c, spec), spec, spec.steps, steps);
    for (const [from, to] of Object.entries(spec.outputs ?? {}))
      await c
        .directory(from)
        .export(to)
        .catch(() => c.file(from).export(to));
    return { steps };
  }

  /** `asService` with a hostname, started now so failures show here. */
  async startService(spec: ServiceSpec): Promise<ServiceHandle> {
    let c = this.withSource(await this.container(spec), spec);
    for (const p of spec.ports ?? []) c = c.withExposedPort(p);
    const svc = c
      .asService({ args: spec.args ?? [], useEntrypoint: spec.useEntrypoint ?? false })
      .withHostname(spec.hostname);
    await svc.start();
    const handle: ServiceHandle = {
      hostname: spec.hostname,
      stop: async () => {
        if (this.services.delete(handle)) await svc.stop();
      },
    };
    this.services.set(handle, svc);
    return handle;
  }

  /** `dockerBuild` for one platform, with build args and BuildKit secrets. */
  async build(spec: BuildSpec): Promise<BuiltImage> {
    const secrets = await Promise.all((spec.secrets ?? []).map((s) => this.secret(s)));
    const ctr = dag
      .host()
      .directory(spec.context ?? ".", { exclude: spec.exclude ?? [] })
      .dockerBuild({
        platform: spec.platform as Platform,
        dockerfile: spec.dockerfile ?? "Dockerfile",
        buildArgs: Object.entries(spec.buildArgs ?? {}).map(([name, value]) => ({ name, value })),
        secrets,
        ...(spec.target ? { target: spec.target } : {}),
      });
    await ctr.sync();
    const ref = `dagger-build-${this.built.size + 1}-${spec.platform}`;
    this.built.set(ref, ctr);
    return { platform: spec.platform, ref };
  }

  /** The containers behind built images. */
  private variants(images: BuiltImage[]): Container[] {
    return images.map((i) => {
      const c = this.built.get(i.ref);
      if (!c) throw new Error(`image ${i.ref} was not built by this engine`);
      return c;
    });
  }

  /** One OCI tarball with every platform variant. */
  async exportImage(variants: BuiltImage[], tarPath: string): Promise<void> {
    await dag.container().export(tarPath, { platformVariants: this.variants(variants) });
  }

  /** `publish` with every platform variant; credentials through `withRegistryAuth` and a secret. */
  async publishImage(variants: BuiltImage[], ref: string, auth?: RegistryAuth): Promise<string> {
    let c = dag.container();
    if (auth) c = c.withRegistryAuth(auth.address, auth.username, await this.secret(auth.password));
    return c.publish(ref, { platformVariants: this.variants(variants) });
  }

  /** `exportImage` into the host's Docker under `tag`. */
  async loadImage(image: BuiltImage, tag: string): Promise<void> {
    const [c] = this.variants([image]);
    await c?.exportImage(tag);
  }

  /** Stops every service and closes the session. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.services.keys()].map((h) => h.stop()));
    await this.release();
  }
}

/** Opens one Dagger connection for the run; `close()` on the engine ends it. */
export async function openDagger(
  opts: { cache: boolean; runId: string } = { cache: true, runId: "" },
): Promise<Engine> {
  ensureDaggerReachable();
  let release!: () => void;
  const released = new Promise<void>((r) => {
    release = r;
  });
  let session!: Promise<void>;
  await new Promise<void>((ready, fail) => {
    session = connection(
      async () => {
        ready();
        await released;
      },
      { LogOutput: process.stderr },
    );
    session.catch(fail);
  });
  return new DaggerEngine(
    async () => {
      release();
      await session.catch(() => {});
    },
    opts.cache ? undefined : opts.runId,
  );
}
