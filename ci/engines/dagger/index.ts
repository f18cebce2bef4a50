/**
 * The Dagger engine: `@dagger.io/dagger` (0.21.9, pinned) over one connection for the whole run.
 *
 * Cookbook idioms: `host().directory(path, { exclude })` for the source and build contexts (only what the
 * excludes and `.dockerignore` allow is uploaded), `cacheVolume` for npm and daemon data, `withExec([...])`
 * (the image entrypoint is ignored), `withFile` for plain files, `setSecret` + `withSecretVariable` for
 * secrets, `asService` + `withServiceBinding` for services (a Docker daemon gets `insecureRootCapabilities`),
 * `dockerBuild({ platform })`, `export` / `publish` with `platformVariants`, `exportImage` into the host's
 * Docker. Dagger reports a step's output when the step ends; live progress is Dagger's (`dagger run`).
 */
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import {
  CacheSharingMode,
  type Client,
  type Container,
  type Secret as DaggerSecret,
  dag,
  type Platform,
  ReturnType,
} from "@dagger.io/dagger";
import type { Context as TraceContext } from "@opentelemetry/api";
import type {
  BuildSpec,
  BuiltImage,
  ContainerSpec,
  DockerClient,
  DockerClientSpec,
  Engine,
  EngineCapabilities,
  EngineSettings,
  FileSpec,
  PublishOptions,
  RunResult,
  RunSpec,
  Secret,
  ServiceSpec,
  Step,
  StepResult,
} from "../../engine.js";
import { extraCertificates } from "../../lib/ca.js";
import { DOCKER_SOCKET } from "../../lib/docker-bin.js";
import { contextExcludes } from "../../lib/dockerignore.js";
import { StepFailed } from "../errors.js";
import { clientFor, ensureDaggerReachable, openSession } from "./session.js";
import { inSpan } from "./spans.js";

export { ensureDaggerReachable };

/** `setSecret`'s documented limit. */
export const SET_SECRET_MAX_BYTES = 128_000;

/** The Dagger engine for one run, inside an open connection. */
class DaggerEngine implements Engine {
  readonly name = "dagger" as const;
  readonly capabilities: EngineCapabilities;
  private readonly built = new Map<string, Container>();
  private readonly secrets = new Map<Secret, Promise<DaggerSecret>>();

  constructor(
    private readonly release: () => Promise<void>,
    /** The connection's trace context: spans started outside any other hang from it. */
    private readonly trace: TraceContext,
    private readonly settings: EngineSettings,
    /** Set with --no-cache: an env value unique to the run, so Dagger re-runs every exec. */
    private readonly cacheBuster?: string,
  ) {
    this.capabilities = {
      multiPlatformExport: true,
      // Under the module's nested session `exportImage` has no image store to write to.
      loadsImages: !settings.dagger.moduleRunner,
    };
  }

  /** A Dagger secret: plaintext only ever goes through `setSecret`. */
  private secret(s: Secret, plaintext?: (text: string) => string): Promise<DaggerSecret> {
    let made = this.secrets.get(s);
    if (!made) {
      made = (async () => {
        const raw = s.value ?? (await readFile(resolve(s.file), "utf8"));
        const text = plaintext ? plaintext(raw) : raw;
        const bytes = Buffer.byteLength(text);
        if (bytes > SET_SECRET_MAX_BYTES)
          throw new Error(
            `secret ${s.name} is ${bytes} bytes; Dagger's setSecret takes at most ${SET_SECRET_MAX_BYTES}`,
          );
        return dag.setSecret(s.name, text);
      })();
      this.secrets.set(s, made);
    }
    return made;
  }

  /**
   * A build secret. A CA bundle (`npm_ca`) is cut to the certificates Node does not already trust, which is
   * what NODE_EXTRA_CA_CERTS needs: Debian's whole bundle is about 220 KB, over setSecret's limit.
   */
  private buildSecret(s: Secret): Promise<DaggerSecret> {
    return this.secret(s, (text) => (s.name === "npm_ca" ? extraCertificates(text) : text));
  }

  /** A spec's container without its source: image, files, caches, env, secrets, services, workdir. */
  private async container(
    client: Client,
    spec: ContainerSpec,
    sharing?: CacheSharingMode,
  ): Promise<Container> {
    let c =
      this.built.get(spec.image) ??
      client
        .container(spec.platform ? { platform: spec.platform as Platform } : undefined)
        .from(spec.image);
    if (spec.user) c = c.withUser(spec.user);
    for (const f of spec.files ?? []) c = c.withFile(f.to, client.host().file(resolve(f.from)));
    for (const [path, vol] of Object.entries(spec.caches ?? {}))
      c = c.withMountedCache(path, client.cacheVolume(vol), sharing ? { sharing } : undefined);
    for (const [k, v] of Object.entries(spec.env ?? {})) c = c.withEnvVariable(k, v);
    for (const [k, s] of Object.entries(spec.secretEnv ?? {}))
      c = c.withSecretVariable(k, await this.secret(s));
    for (const svc of spec.services ?? [])
      c = c.withServiceBinding(svc.hostname, await this.service(client, svc));
    if (this.cacheBuster) c = c.withEnvVariable("CODEX_CI_CACHE_BUSTER", this.cacheBuster);
    const workdir = spec.workdir ?? spec.source?.to;
    return workdir ? c.withWorkdir(workdir) : c;
  }

  /**
   * A service: its container as `asService`. Dagger starts it when a bound container runs and waits for its
   * exposed ports, so `ready` is not needed; its Docker daemons pull images themselves, so `preload` is not.
   */
  private async service(client: Client, spec: ServiceSpec) {
    // A service's caches are its own while it runs (a Docker daemon's data directory cannot be shared):
    // Private gives a concurrent session a fresh volume instead of a second daemon on the same one.
    let c = this.withSource(
      client,
      await this.container(client, spec, CacheSharingMode.Private),
      spec,
    );
    for (const p of spec.ports ?? []) c = c.withExposedPort(p);
    return c.asService({
      args: spec.args ?? [],
      useEntrypoint: spec.useEntrypoint ?? false,
      ...(spec.privileged ? { insecureRootCapabilities: true } : {}),
    });
  }

  /** Adds the source tree after the setup steps, so their execs are cached apart from source changes. */
  private withSource(client: Client, c: Container, spec: ContainerSpec): Container {
    if (!spec.source) return c;
    const { from = ".", to, exclude = [] } = spec.source;
    return c.withDirectory(to, client.host().directory(resolve(from), { exclude }));
  }

  /**
   * Appends steps as `withExec`s, reading each one's exit code and output; throws on a failing step. The API
   * gives a step's output when it ends. Under `dagger run` (a session port is set) Dagger's own progress (its
   * TUI, or `--progress plain`) already shows every exec's output live, so it goes to `quietLog` (the row's log
   * file) rather than the console: printed once. Without `dagger run` nothing else shows it, so it is logged.
   */
  private async execs(c: Container, spec: RunSpec, steps: Step[], results: StepResult[]) {
    const log = spec.log ?? (() => {});
    const output = this.settings.dagger.sessionPort ? (spec.quietLog ?? (() => {})) : log;
    for (const step of steps) {
      if (spec.signal?.aborted) throw new StepFailed(spec.name, step.name, -1, "");
      spec.step?.(step.name);
      log(`$ ${step.args.join(" ")}`);
      const t0 = Date.now();
      for (const [k, v] of Object.entries(step.env ?? {})) c = c.withEnvVariable(k, v);
      c = c.withExec(step.args, { expect: ReturnType.Any });
      for (const k of Object.keys(step.env ?? {})) c = c.withoutEnvVariable(k);
      let out: [number, string, string];
      try {
        out = await Promise.all([c.exitCode(), c.stdout(), c.stderr()]);
      } catch (e) {
        // Aborting cut the connection under the query: the run was cancelled, not broken.
        if (spec.signal?.aborted) throw new StepFailed(spec.name, step.name, -1, "");
        throw e;
      }
      const [exitCode, stdout, stderr] = out;
      for (const line of `${stdout}${stderr}`.split("\n").filter(Boolean)) output(line);
      results.push({ name: step.name, exitCode, stdout, stderr, durationMs: Date.now() - t0 });
      if (exitCode !== 0 && !step.allowFailure)
        throw new StepFailed(spec.name, step.name, exitCode, `${stdout}\n${stderr}`);
    }
    return c;
  }

  /** Runs the setup steps, adds the source, then runs the steps: one chain of `withExec`. */
  async run(spec: RunSpec): Promise<RunResult> {
    const client = clientFor(spec.signal);
    const steps: StepResult[] = [];
    let c = await this.execs(await this.container(client, spec), spec, spec.setup ?? [], steps);
    c = await this.execs(this.withSource(client, c, spec), spec, spec.steps, steps);
    for (const [from, to] of Object.entries(spec.outputs ?? {}))
      await c
        .directory(from)
        .export(to)
        .catch(() => c.file(from).export(to));
    return { steps };
  }

  /**
   * `dockerBuild` for one platform. The context is uploaded with `.dockerignore` applied on the way (Dagger
   * would apply it only after uploading everything: node_modules, .git, reports).
   */
  async build(spec: BuildSpec): Promise<BuiltImage> {
    const client = clientFor(spec.signal);
    const context = resolve(spec.context ?? ".");
    const dockerfile = spec.dockerfile ?? "Dockerfile";
    const secrets = await Promise.all((spec.secrets ?? []).map((s) => this.buildSecret(s)));
    const built = client
      .host()
      .directory(context, { exclude: contextExcludes(context, dockerfile) })
      .dockerBuild({
        platform: spec.platform as Platform,
        dockerfile,
        buildArgs: Object.entries(spec.buildArgs ?? {}).map(([name, value]) => ({ name, value })),
        secrets,
        ...(spec.target ? { target: spec.target } : {}),
      });
    let ctr = built;
    for (const [k, v] of Object.entries(spec.labels ?? {})) ctr = ctr.withLabel(k, v);
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
  async publishImage(
    variants: BuiltImage[],
    ref: string,
    opts: PublishOptions = {},
  ): Promise<string> {
    let c = dag.container();
    const auth = opts.auth;
    if (auth) c = c.withRegistryAuth(auth.address, auth.username, await this.secret(auth.password));
    return c.publish(ref, { platformVariants: this.variants(variants) });
  }

  /** `exportImage` into the host's Docker under `tag`. */
  async loadImage(image: BuiltImage, tag: string): Promise<void> {
    const [c] = this.variants([image]);
    await c?.exportImage(tag);
  }

  /**
   * The docker CLI image, reaching the deploy daemon: `DOCKER_HOST` when it is a tcp:// address, else the
   * host's socket. The repo is copied in (compose files and config build contexts), never bind-mounted.
   * Secret variables go in as secrets.
   */
  dockerClient(spec: DockerClientSpec): DockerClient {
    const host = this.settings.dockerHost;
    if (host && !host.startsWith("tcp://") && !host.startsWith("unix://"))
      throw new Error(
        `deploy on the Dagger engine reaches the host's socket or a tcp:// DOCKER_HOST; for ${host.split("://")[0]}:// use --engine docker, whose client speaks it`,
      );
    let n = 0;
    const exec = async (
      args: string[],
      env: Record<string, string> = {},
      files: FileSpec[] = [],
    ) => {
      const name = `deploy-${++n}`;
      let c = await this.container(dag, {
        image: spec.image,
        files,
        secretEnv: spec.secrets,
        workdir: "/src",
        // A fresh value per command, so the engine never answers a poll from its cache.
        env: { ...env, CODEX_DEPLOY_NONCE: `${Date.now()}-${n}` },
      });
      c = host?.startsWith("tcp://")
        ? c.withEnvVariable("DOCKER_HOST", host)
        : c.withUnixSocket(DOCKER_SOCKET, dag.host().unixSocket(host?.slice(7) || DOCKER_SOCKET));
      const results: StepResult[] = [];
      c = this.withSource(dag, c, {
        image: spec.image,
        source: {
          from: spec.root,
          to: "/src",
          exclude: ["node_modules", ".git", "dist", "reports"],
        },
      });
      await this.execs(
        c,
        { name, image: spec.image, steps: [] },
        [{ name, args, allowFailure: true }],
        results,
      );
      const step = results[0];
      return {
        exitCode: step?.exitCode ?? 1,
        stdout: step?.stdout ?? "",
        stderr: step?.stderr ?? "",
      };
    };
    return {
      exec: (args, opts = {}) => exec(args, opts.env),
      load: (tarball) =>
        exec(["docker", "load", "-i", "/tmp/image.tar"], {}, [
          { from: tarball, to: "/tmp/image.tar" },
        ]),
    };
  }

  span<T>(
    name: string,
    fn: () => Promise<T>,
    failure?: (value: T) => string | undefined,
  ): Promise<T> {
    return inSpan(this.trace, name, fn, failure);
  }

  async close(): Promise<void> {
    await this.release();
  }
}

/** Opens one Dagger connection for the run; `close()` on the engine ends it. */
export async function openDagger(opts: {
  cache: boolean;
  runId: string;
  settings: EngineSettings;
  cliBin?: string | undefined;
}): Promise<Engine> {
  ensureDaggerReachable(opts.settings.dagger, opts.cliBin);
  const { release, trace } = await openSession();
  return new DaggerEngine(release, trace, opts.settings, opts.cache ? undefined : opts.runId);
}
