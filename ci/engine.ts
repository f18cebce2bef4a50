/**
 * The engine-neutral interface every stage is written against.
 *
 * Two engines implement it: `ci/engines/dagger.ts` (the Dagger SDK) and `ci/engines/docker.ts`
 * (the local Docker daemon). A stage never imports an engine; it receives one in its
 * `StageContext` (see `ci/stage.ts`). This file holds types only. Stable: add, don't rename.
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

/** A started service other containers reach by `hostname`. */
export interface ServiceHandle {
  readonly hostname: string;
  /** Stops and removes it (idempotent; engines also stop every service on `close()`). */
  stop(): Promise<void>;
}

/** The container every run and service starts from. */
export interface ContainerSpec {
  /** Image reference, e.g. "node:22-bookworm-slim". */
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
  /** Secrets mounted as read-only files: container path → secret. */
  secretFiles?: Record<string, Secret>;
  /** The source tree copied in. */
  source?: SourceSpec;
  /** Extra host files copied in. */
  files?: FileSpec[];
  /** Named cache volumes that persist between runs: container path → volume name. */
  caches?: Record<string, string>;
  /** Services reachable from this container by their hostname. */
  services?: ServiceHandle[];
  /** Mount the host's Docker socket at /var/run/docker.sock (for e2e and compose). */
  dockerSocket?: boolean;
  /**
   * Docker-outside-of-docker: join the host's network and bind these host paths at the same path, so
   * ports (127.0.0.1:5000) and bind mounts (a temp dir under /tmp) the container asks the host daemon for
   * mean the same thing on both sides. Docker engine only; the Dagger engine warns and ignores them.
   */
  hostNetwork?: boolean;
  hostPaths?: string[];
}

/** Run `steps` in order in one container. */
export interface RunSpec extends ContainerSpec {
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
  /** Streamed output, one call per line. The Dagger engine emits a step's output when it ends. */
  log?: LineSink;
  /** Aborts the run (Ctrl-C, --fail-fast); the engine kills and removes its container. */
  signal?: AbortSignal;
  /** Called when the run gets a job slot and starts (after any wait behind `--jobs`). */
  started?: () => void;
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

/** A long-running container started as a service. */
export interface ServiceSpec extends ContainerSpec {
  /** The name other containers use to reach it. */
  hostname: string;
  /** argv of the service; with `useEntrypoint` it is appended to the image's ENTRYPOINT. */
  args?: string[];
  /** Run through the image's ENTRYPOINT (for images such as prom/prometheus). */
  useEntrypoint?: boolean;
  /** Ports it listens on (exposed to bound containers, not published on the host). */
  ports?: number[];
  log?: LineSink;
}

/** Build one platform of a Dockerfile. */
export interface BuildSpec {
  /** Build context on the host; default ".". */
  context?: string;
  /** Dockerfile path relative to the context; default "Dockerfile". */
  dockerfile?: string;
  /** e.g. "linux/arm64". */
  platform: string;
  /** Non-secret build args only. */
  buildArgs?: Record<string, string>;
  /** BuildKit secrets, mounted with `RUN --mount=type=secret,id=<name>`. */
  secrets?: Secret[];
  /** Multi-stage target. */
  target?: string;
  /** Globs left out of the context (Dagger; the Docker engine relies on .dockerignore). */
  exclude?: string[];
  log?: LineSink;
  signal?: AbortSignal;
  /** Called when the build gets a job slot and starts (after any wait behind `--jobs`). */
  started?: () => void;
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

/** A failing step: message names the run and the step, never secrets. */
export interface StepError extends Error {
  readonly run: string;
  readonly step: string;
  readonly exitCode: number;
  /** Last lines of the step's output, for the summary. */
  readonly tail: string;
}

/** What an engine can do. One instance per pipeline run; `close()` removes everything it made. */
export interface Engine {
  readonly name: "dagger" | "docker";
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
  publishImage(variants: BuiltImage[], ref: string, auth?: RegistryAuth): Promise<string>;
  /** Loads one variant into the host's Docker under `tag`. */
  loadImage(image: BuiltImage, tag: string): Promise<void>;
  /** Starts a container as a service other runs can bind to. */
  startService(spec: ServiceSpec): Promise<ServiceHandle>;
  /** Stops and removes every container, network, service and temporary volume of this run. */
  close(): Promise<void>;
}
