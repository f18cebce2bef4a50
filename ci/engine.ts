/**
 * The engine-neutral interface every stage is written against. Two engines implement it:
 * `ci/engines/dagger/` (the Dagger SDK) and `ci/engines/docker/` (a Docker daemon). A stage never imports
 * an engine; it receives one in its `StageContext` (`ci/stage.ts`). Types only.
 *
 * Conventions both engines honour:
 * - Commands name their binary explicitly; the image's ENTRYPOINT is ignored (Dagger's default).
 * - Paths inside containers are absolute. Host paths are relative to the repo root or absolute.
 * - Secrets' plaintext never reaches logs, build args, image layers or error messages.
 */

/** A secret: a literal value or a host file, known to engines by `name`. Never log `value`. */
export type Secret =
  | { readonly name: string; readonly value: string; readonly file?: undefined }
  | { readonly name: string; readonly file: string; readonly value?: undefined };

/** Receives one line of output (no trailing newline); the caller adds stage/cell prefixes. */
export type LineSink = (line: string) => void;

/** Told as each step starts: its name, and whether the engine serves it from its cache. */
export type StepSink = (name: string, cached?: boolean) => void;

/** How a run or build reports progress; the entry's `RowHooks` (`ci/progress.ts`) fill them all. */
export interface ProgressHooks {
  /** Streamed output, one call per line. */
  log?: LineSink;
  /** Output the console already shows elsewhere (Dagger's progress under `dagger run`): kept, not echoed. */
  quietLog?: LineSink;
  /** Called when the work must wait for a `--jobs` slot. */
  queued?: () => void;
  /** Called when the work gets a job slot and starts (after any wait behind `--jobs`). */
  started?: () => void;
  /** Called as each step starts, before its output. */
  step?: StepSink;
}

/** A host directory copied (never bind-mounted read-write) into the container. */
export interface SourceSpec {
  /** Host directory; default the repo root ("."). */
  from?: string;
  /** Path inside the container, e.g. "/src". */
  to: string;
  /** Globs left out, e.g. node_modules, .git, dist. */
  exclude?: string[];
}

/** A host file copied read-only into the container (e.g. an image tarball for a scanner). */
export interface FileSpec {
  /** Host path. */
  from: string;
  /** Path inside the container. */
  to: string;
}

/** One command of a run. */
export interface Step {
  /** Short, unique within the run; named in progress lines and in `StepError`. */
  name: string;
  /** argv, binary first, e.g. ["npm", "ci"]; no shell unless you call one. */
  args: string[];
  /** Extra environment for this step only. */
  env?: Record<string, string>;
  /** Don't raise on a non-zero exit; the caller reads `StepResult.exitCode` instead. */
  allowFailure?: boolean;
}

/** What a finished step gives back. */
export interface StepResult {
  name: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Served from the engine's cache: the same step on the same inputs passed before (output not replayed). */
  cached?: boolean;
}

/** The container every run and service starts from. Nothing in it is a path or port of the caller's host. */
export interface ContainerSpec {
  /** Image reference, e.g. "node:22-bookworm-slim", or the `ref` of an image this engine built. */
  image: string;
  /** e.g. "linux/amd64"; default the host's platform. */
  platform?: string;
  /** User the steps run as, e.g. "root" (an image's own USER may be unprivileged); default the image's. */
  user?: string;
  /** Working directory; default the source's `to` when a source is given. */
  workdir?: string;
  /** Plain environment (never secrets). */
  env?: Record<string, string>;
  /** Secrets exposed as environment variables: variable name → secret. */
  secretEnv?: Record<string, Secret>;
  /** The source tree copied in. */
  source?: SourceSpec;
  /** Host files copied in (a CA bundle, an image tarball for a scanner): plain files, any size. */
  files?: FileSpec[];
  /** Named cache volumes that persist between runs: container path → volume name. */
  caches?: Record<string, string>;
  /** Services started for this container (and stopped after it), reachable by their hostnames. */
  services?: ServiceSpec[];
}

/** Run `steps` in order in one container. */
export interface RunSpec extends ContainerSpec, ProgressHooks {
  /** Names the run in progress lines and errors, e.g. "lint" or "node22/unit". */
  name: string;
  /**
   * Steps run before the source is added (tool installs such as apt-get), so their cached results survive
   * source changes, like `RUN apt-get` before `COPY . .` in a Dockerfile. Reported like `steps`, first.
   */
  setup?: Step[];
  steps: Step[];
  /** Container paths copied back to the host after the steps pass: container path → host path. */
  outputs?: Record<string, string>;
  /** Aborts the run (Ctrl-C, --fail-fast); the engine kills and removes its container. */
  signal?: AbortSignal;
  /**
   * Called when the run fails, before its `--jobs` slot goes to a queued run: --fail-fast aborts there, so
   * nothing queued starts after the first failure.
   */
  failed?: (error: unknown) => void;
  /**
   * Let the Docker engine reuse snapshots of identical passing steps, as Dagger caches identical execs.
   * Leave off when a result depends on more than the inputs (network, a DB in a cache volume, the host daemon).
   */
  reuse?: boolean;
}

/** What a run gives back when every step passed (or was allowed to fail). */
export interface RunResult {
  steps: StepResult[];
}

/** A long-running container started as a service of a run. */
export interface ServiceSpec extends ContainerSpec {
  /** The name the run's container uses to reach it. */
  hostname: string;
  /** argv of the service; with `useEntrypoint` it is appended to the image's ENTRYPOINT. */
  args?: string[];
  /** Run through the image's ENTRYPOINT (for images such as prom/prometheus or docker:dind). */
  useEntrypoint?: boolean;
  /** Ports it listens on (exposed to the run's container, not published on the host). */
  ports?: number[];
  /**
   * Full root capabilities, as a Docker daemon needs (Dagger's insecureRootCapabilities; the Docker engine
   * tries --privileged, then the narrower set that works where --privileged is refused).
   */
  privileged?: boolean;
  /** A command run inside the service until it succeeds, before the run starts (e.g. `docker info`). */
  ready?: string[];
  /**
   * For a Docker daemon service: images it should hold before the run, where it cannot pull them. The
   * Docker engine copies them from its own daemon (`docker save | docker load`) when they are missing;
   * Dagger's daemons pull from the registry instead.
   */
  preload?: string[];
}

/** Build one platform of a Dockerfile. */
export interface BuildSpec extends ProgressHooks {
  /** Build context on the host; default ".". */
  context?: string;
  /** Dockerfile path relative to the context; default "Dockerfile". */
  dockerfile?: string;
  /** e.g. "linux/arm64". */
  platform: string;
  /** Non-secret build args only. */
  buildArgs?: Record<string, string>;
  /**
   * Build args that name a base image, and the platform it is wanted for: the engine resolves each to the
   * image it has for that platform (the Docker engine's per-platform alias of an offline stand-in).
   */
  baseImages?: Record<string, string>;
  /** Labels added to the image (known only at build time, such as the repository URL). */
  labels?: Record<string, string>;
  /** BuildKit secrets, mounted with `RUN --mount=type=secret,id=<name>`. */
  secrets?: Secret[];
  /** Multi-stage target. */
  target?: string;
  signal?: AbortSignal;
}

/** An image an engine built; pass it back to export, publish, load or run. */
export interface BuiltImage {
  readonly platform: string;
  /** Engine-specific handle: a local tag or image ID (Docker) or a container (Dagger). */
  readonly ref: string;
}

/** Registry credentials for `publish`. */
export interface RegistryAuth {
  /** Registry host, e.g. "127.0.0.1:5000" or "ghcr.io". */
  address: string;
  username: string;
  password: Secret;
}

/** How `publishImage` reaches the registry. */
export interface PublishOptions {
  auth?: RegistryAuth;
  /** Plain HTTP and no TLS check: only for a loopback registry or one the config declares insecure. */
  insecure?: boolean;
}

/** A failing step: message names the run and the step, never secrets. */
export interface StepError extends Error {
  readonly run: string;
  readonly step: string;
  readonly exitCode: number;
  /** Last lines of the step's output, for the summary. */
  readonly tail: string;
}

/** How a command ended. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** `docker` and compose commands against the daemon deploys go to: `DOCKER_HOST`, else the local socket. */
export interface DockerClient {
  /**
   * `args[0]` is "docker" or "docker-compose"; compose files are named relative to the repo root. Never throws
   * on a non-zero exit; past `timeoutMs` the command is stopped and reads as failed.
   */
  exec(
    args: string[],
    opts?: { env?: Record<string, string>; timeoutMs?: number },
  ): Promise<ExecResult>;
  /** `docker load` of an image tarball on the caller's disk. */
  load(tarball: string): Promise<ExecResult>;
}

/** What a `DockerClient` needs. */
export interface DockerClientSpec {
  /** The repo root: compose files and build contexts are under it. */
  root: string;
  /** An image with the docker CLI and compose, for engines that run commands in a container. */
  image: string;
  /** Variables compose passes to the stack, as secrets. */
  secrets: Record<string, Secret>;
}

/** What differs between engines, for the few places a stage must know. */
export interface EngineCapabilities {
  /** `exportImage` writes several platforms into one OCI index; else one docker-archive per platform. */
  multiPlatformExport: boolean;
  /**
   * `loadImage` reaches a Docker daemon. Not in the Dagger module's runner (`.dagger/`): its nested session has
   * no image store, and the module returns the image instead.
   */
  loadsImages: boolean;
}

/** What an engine can do. One instance per pipeline run; `close()` removes everything it made. */
export interface Engine {
  readonly name: "dagger" | "docker";
  readonly capabilities: EngineCapabilities;
  /** Runs steps in a container; rejects with a `StepError` on the first failing step. */
  run(spec: RunSpec): Promise<RunResult>;
  /** Builds one platform of a Dockerfile. */
  build(spec: BuildSpec): Promise<BuiltImage>;
  /**
   * Writes the variants as one tarball. Dagger: OCI, a multi-platform index when several. Docker engine:
   * `docker save` (docker-archive, which `docker load` and `trivy image --input` read); call once per platform.
   */
  exportImage(variants: BuiltImage[], tarPath: string): Promise<void>;
  /** Pushes the variants as one (multi-platform) image; returns the pushed reference with digest. */
  publishImage(variants: BuiltImage[], ref: string, opts?: PublishOptions): Promise<string>;
  /** Loads one variant into the host's Docker under `tag`. */
  loadImage(image: BuiltImage, tag: string): Promise<void>;
  /** A docker client for the daemon deploys go to. */
  dockerClient(spec: DockerClientSpec): DockerClient;
  /**
   * Runs `fn` as one named span of the run's trace, inside the span it is called from, and marks the span
   * failed when `fn` throws or `failure` finds a failure in its value (it returns the message). Dagger: the
   * SDK's tracer, so a stage or cell is a node of its own in the TUI and Dagger Cloud, with the calls it made
   * beneath it. Docker engine: calls `fn` and nothing more.
   */
  span<T>(
    name: string,
    fn: () => Promise<T>,
    failure?: (value: T) => string | undefined,
  ): Promise<T>;
  /** Stops and removes every container, network, service and temporary volume of this run. */
  close(): Promise<void>;
}

/** What engines are told about their environment, read once by the entry (`ci/settings.ts`). */
export interface EngineSettings {
  /** The docker client to drive. */
  dockerBin: string;
  /** `DOCKER_HOST`: the daemon is elsewhere (no binfmt_misc check here, ports on its host). */
  dockerHost?: string;
  /**
   * A `dagger run` session, or the CLI the SDK should start one with. `moduleRunner`: this process runs inside
   * the Dagger module's runner container (`CODEX_CI_DAGGER_MODULE=1`), under a nested session.
   */
  dagger: { sessionPort?: string; sessionToken?: string; cliBin?: string; moduleRunner?: boolean };
}
