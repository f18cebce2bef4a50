/**
 * The Docker engine: the local daemon through the docker CLI (zx).
 *
 * Why the CLI and not dockerode: BuildKit builds with secrets and `--platform` (`DOCKER_BUILDKIT=1 docker build`)
 * and `docker manifest` have no dockerode equivalent, and the CLI honours the user's DOCKER_HOST, contexts and
 * credential helpers for free. One client for everything: Debian's 20.10 `/usr/bin/docker` when present.
 *
 * Each run is one container kept alive with `sleep`, the source copied in as a tar stream (never bind-mounted),
 * and each step a `docker exec`. Everything made carries the label `codex-ci.run=<runId>` and `close()`
 * removes it by that label. Cache volumes carry `codex-ci.cache=1` instead and persist.
 */
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { $, type ProcessPromise } from "zx";
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
import { DOCKER_BIN, DOCKER_SOCKET } from "../host.js";
import { lineSplitter } from "../log.js";
import { StepFailed } from "./errors.js";

/** The label every container, network, volume and build tag of a run carries. */
export const RUN_LABEL = "codex-ci.run";
/** The label of persistent cache volumes. */
export const CACHE_LABEL = "codex-ci.cache";
/** Step snapshots: `codex-ci-snapshot:<key>`, labelled with the run name they belong to. */
export const SNAPSHOT_REPO = "codex-ci-snapshot";
export const SNAPSHOT_LABEL = "codex-ci.snapshot";

/** A lowercase name fragment Docker accepts. */
const slug = (s: string) =>
  s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");

/** Content digest of a source tree: a deterministic tar (names sorted, times and owners zeroed) hashed. */
function sourceDigest(from: string, exclude: string[]): Promise<string> {
  return new Promise((ok, fail) => {
    const h = createHash("sha256");
    const tar = spawn("tar", [
      "-C",
      from,
      ...exclude.map((e) => `--exclude=${e}`),
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "-cf",
      "-",
      ".",
    ]);
    tar.stdout.on("data", (d: Buffer) => h.update(d));
    tar.on("error", fail);
    tar.on("close", (code) =>
      code === 0 ? ok(h.digest("hex")) : fail(new Error(`tar of ${from} failed (${code})`)),
    );
  });
}

/** The Docker engine for one pipeline run. */
class DockerEngine implements Engine {
  readonly name = "docker" as const;
  /** Private temp dir for secret values, made on first use and removed by close(). */
  private secretDir?: string;
  private readonly procs = new Set<ProcessPromise>();
  private readonly buildTags = new Set<string>();
  private network?: Promise<string>;
  private seq = 0;
  private closed = false;
  private closing?: Promise<void>;

  constructor(
    readonly runId: string,
    private readonly cache: boolean,
  ) {}

  /** The docker CLI, quiet, killed with the run; secrets reach it only through `env`. */
  private docker(
    opts: {
      env?: Record<string, string>;
      signal?: AbortSignal;
      input?: string;
      nothrow?: boolean;
    } = {},
  ) {
    return $({
      quiet: true,
      nothrow: opts.nothrow ?? false,
      detached: true, // Ctrl-C reaches main.ts, which cleans up, rather than every docker client at once
      env: { ...process.env, DOCKER_BUILDKIT: "1", ...opts.env },
      ...(opts.signal ? { signal: opts.signal } : {}),
      ...(opts.input !== undefined ? { input: opts.input } : {}),
    });
  }

  /** Runs a docker command to completion, tracked so close() can kill it; throws on failure. */
  private async cmd(
    args: string[],
    opts: Parameters<DockerEngine["docker"]>[0] = {},
  ): Promise<string> {
    const p = this.docker(opts)`${DOCKER_BIN} ${args}`;
    this.procs.add(p);
    try {
      return (await p).stdout.trim();
    } finally {
      this.procs.delete(p);
    }
  }

  /** A unique container name for this run. */
  private nameFor(what: string): string {
    this.seq += 1;
    return `codex-ci-${this.runId}-${slug(what).slice(0, 40)}-${this.seq}`;
  }

  /** A host file holding the secret, for a read-only bind mount (a value is written to a private temp dir). */
  private secretFile(s: Secret): string {
    if (s.file !== undefined) return resolve(s.file);
    this.secretDir ??= mkdtempSync(join(tmpdir(), "codex-ci-secrets-"));
    const path = join(this.secretDir, `${slug(s.name)}-${randomBytes(4).toString("hex")}`);
    writeFileSync(path, s.value, { mode: 0o600 });
    return path;
  }

  /** The run's user-defined network, created on first use. */
  private net(): Promise<string> {
    this.network ??= (async () => {
      const name = `codex-ci-${this.runId}`;
      await this.cmd(["network", "create", "--label", `${RUN_LABEL}=${this.runId}`, name]);
      return name;
    })();
    return this.network;
  }

  /** Creates a labelled cache volume once (idempotent), so it is known as ours and persists. */
  private async cacheVolume(name: string): Promise<void> {
    await this.cmd(["volume", "create", "--label", `${CACHE_LABEL}=1`, name]);
  }

  /** Creates, fills and starts a container; returns its name. `cmd` replaces the entrypoint unless `useEntrypoint`. */
  private async start(
    spec: ContainerSpec,
    what: string,
    cmd: string[],
    extra: { useEntrypoint?: boolean; hostname?: string; signal?: AbortSignal } = {},
  ): Promise<string> {
    const name = this.nameFor(what);
    const args = ["create", "--name", name, "--label", `${RUN_LABEL}=${this.runId}`];
    if (spec.platform) args.push("--platform", spec.platform);
    if (spec.user) args.push("--user", spec.user);
    const workdir = spec.workdir ?? spec.source?.to;
    if (workdir) args.push("--workdir", workdir);
    for (const [k, v] of Object.entries(spec.env ?? {})) args.push("--env", `${k}=${v}`);
    // `--env NAME` without a value: the client reads it from its own environment, so no plaintext in argv.
    const secretEnv: Record<string, string> = {};
    for (const [k, s] of Object.entries(spec.secretEnv ?? {})) {
      secretEnv[k] = s.value ?? readFileSync(resolve(s.file), "utf8").trimEnd();
      args.push("--env", k);
    }
    for (const [path, s] of Object.entries(spec.secretFiles ?? {}))
      args.push("--mount", `type=bind,src=${this.secretFile(s)},dst=${path},readonly`);
    for (const f of spec.files ?? [])
      args.push("--mount", `type=bind,src=${resolve(f.from)},dst=${f.to},readonly`);
    for (const [path, vol] of Object.entries(spec.caches ?? {})) {
      await this.cacheVolume(vol);
      args.push("--mount", `type=volume,src=${vol},dst=${path}`);
    }
    if (spec.services?.length || extra.hostname) args.push("--network", await this.net());
    else if (spec.hostNetwork) args.push("--network", "host");
    for (const p of spec.hostPaths ?? []) args.push("--mount", `type=bind,src=${p},dst=${p}`);
    if (extra.hostname) args.push("--network-alias", extra.hostname, "--hostname", extra.hostname);
    if (spec.dockerSocket)
      args.push("--mount", `type=bind,src=${DOCKER_SOCKET},dst=${DOCKER_SOCKET}`);
    const [bin, ...rest] = cmd;
    if (extra.useEntrypoint || !bin) args.push(spec.image, ...cmd);
    else args.push("--entrypoint", bin, spec.image, ...rest);
    await this.cmd(args, { env: secretEnv, ...(extra.signal ? { signal: extra.signal } : {}) });
    if (spec.source)
      await this.copySource(
        name,
        spec.source.from ?? ".",
        spec.source.to,
        spec.source.exclude ?? [],
      );
    await this.cmd(["start", name]);
    return name;
  }

  /** Copies a host directory into the container as a tar stream (works before start, so services get it too). */
  private async copySource(
    name: string,
    from: string,
    to: string,
    exclude: string[],
  ): Promise<void> {
    const prefix = to.replace(/^\/+|\/+$/g, "");
    const excludes = exclude.map((e) => `--exclude=${e}`);
    const tar = $({
      quiet: true,
    })`tar -C ${from} ${excludes} --transform ${`s,^\\.,${prefix},`} -cf - .`;
    const cp = this.docker()`${DOCKER_BIN} cp - ${`${name}:/`}`;
    this.procs.add(cp);
    try {
      await tar.pipe(cp);
    } finally {
      this.procs.delete(cp);
    }
  }

  /** Runs one step with `docker exec`, streaming its output; returns its result. */
  private async exec(
    name: string,
    spec: RunSpec,
    step: RunSpec["steps"][number],
  ): Promise<StepResult> {
    const log = spec.log ?? (() => {});
    log(`$ ${step.args.join(" ")}`);
    const args = ["exec"];
    for (const [k, v] of Object.entries(step.env ?? {})) args.push("--env", `${k}=${v}`);
    const p = this.docker({
      nothrow: true,
      ...(spec.signal ? { signal: spec.signal } : {}),
    })`${DOCKER_BIN} ${args} ${name} ${step.args}`;
    this.procs.add(p);
    const out = lineSplitter(log);
    const err = lineSplitter(log);
    p.stdout.on("data", (d: Buffer) => out.push(d.toString()));
    p.stderr.on("data", (d: Buffer) => err.push(d.toString()));
    const t0 = Date.now();
    try {
      const r = await p;
      out.flush();
      err.flush();
      return {
        name: step.name,
        exitCode: r.exitCode ?? -1,
        stdout: r.stdout,
        stderr: r.stderr,
        durationMs: Date.now() - t0,
      };
    } finally {
      this.procs.delete(p);
    }
  }

  /**
   * The cache key of a run's starting point without its source, or undefined when it must not be cached:
   * runs that reach the host daemon or services depend on more than their inputs, and secret env would be
   * committed into images.
   */
  private async baseKey(spec: RunSpec): Promise<string | undefined> {
    if (!this.cache || !spec.reuse || spec.dockerSocket || spec.services?.length || spec.secretEnv)
      return undefined;
    const h = createHash("sha256");
    h.update(await this.cmd(["image", "inspect", "--format", "{{.Id}}", spec.image]));
    const fileDigest = (f: string) =>
      createHash("sha256")
        .update(readFileSync(resolve(f)))
        .digest("hex");
    h.update(
      JSON.stringify({
        v: 2,
        platform: spec.platform,
        user: spec.user,
        workdir: spec.workdir,
        env: spec.env,
        caches: spec.caches,
        files: spec.files?.map((f) => [f.to, fileDigest(f.from)]),
        secretFiles: Object.entries(spec.secretFiles ?? {}).map(([p, s]) => [
          p,
          s.file !== undefined
            ? fileDigest(s.file)
            : createHash("sha256").update(s.value).digest("hex"),
        ]),
      }),
    );
    return h.digest("hex");
  }

  /** Each step's cache key: everything before it, the source's content entering after the setup steps. */
  private async stepKeys(spec: RunSpec, all: Step[], setupCount: number): Promise<string[]> {
    const base = await this.baseKey(spec);
    if (!base) return [];
    const hash = (...parts: string[]) => {
      const h = createHash("sha256");
      for (const p of parts) h.update(p);
      return h.digest("hex");
    };
    const source = async () => {
      if (!spec.source) return "no source";
      const { from = ".", to, exclude = [] } = spec.source;
      return JSON.stringify([to, exclude, await sourceDigest(from, exclude)]);
    };
    const keys: string[] = [];
    let prev = base;
    for (const [i, step] of all.entries()) {
      if (i === setupCount) prev = hash(prev, await source());
      prev = hash(prev, JSON.stringify([step.args, step.env]));
      keys.push(prev);
    }
    return keys;
  }

  /** True when a local image has this tag. */
  private async hasImage(tag: string): Promise<boolean> {
    return this.cmd(["image", "inspect", "--format", "{{.Id}}", tag]).then(
      () => true,
      () => false,
    );
  }

  /**
   * Runs the setup steps, copies the source in, then runs the steps, in one fresh container that is then
   * removed. Passing steps are snapshotted; a rerun starts from the last snapshot whose inputs are unchanged.
   */
  async run(spec: RunSpec): Promise<RunResult> {
    const log = spec.log ?? (() => {});
    const setup = spec.setup ?? [];
    const all = [...setup, ...spec.steps];
    const keys = await this.stepKeys(spec, all, setup.length);
    const snapshot = (i: number) => `${SNAPSHOT_REPO}:${(keys[i] ?? "").slice(0, 40)}`;
    let done = 0;
    for (let i = keys.length - 1; i >= 0; i--)
      if (await this.hasImage(snapshot(i))) {
        done = i + 1;
        break;
      }
    const steps: StepResult[] = all.slice(0, done).map((s) => {
      log(`$ ${s.args.join(" ")}   (cached)`);
      return { name: s.name, exitCode: 0, stdout: "", stderr: "", durationMs: 0, cached: true };
    });
    if (done === all.length && !spec.outputs) return { steps };
    // The source goes in at creation, unless a snapshot already has it or setup steps must run first.
    const sourceLater = done < setup.length && spec.source;
    const from = {
      ...spec,
      ...(done > 0 ? { image: snapshot(done - 1) } : {}),
      ...(done > setup.length || sourceLater ? { source: undefined } : {}),
    };
    const name = await this.start(
      from,
      spec.name,
      ["sleep", "86400"],
      spec.signal ? { signal: spec.signal } : {},
    );
    let clean = true; // snapshot only while every step so far passed
    try {
      for (const [i, step] of all.entries()) {
        if (i < done) continue;
        if (i === setup.length && sourceLater) {
          const { from: dir = ".", to, exclude = [] } = sourceLater;
          await this.copySource(name, dir, to, exclude);
        }
        if (spec.signal?.aborted) throw new StepFailed(spec.name, step.name, -1, "");
        const r = await this.exec(name, spec, step);
        steps.push(r);
        if (spec.signal?.aborted) throw new StepFailed(spec.name, step.name, -1, "");
        if (r.exitCode !== 0 && !step.allowFailure)
          throw new StepFailed(spec.name, step.name, r.exitCode, `${r.stdout}\n${r.stderr}`);
        clean &&= r.exitCode === 0;
        if (keys.length && clean) await this.commit(name, spec.name, snapshot(i));
      }
      for (const [from, to] of Object.entries(spec.outputs ?? {}))
        await this.cmd(["cp", `${name}:${from}`, to]);
      return { steps };
    } finally {
      if (!this.closed) await this.cmd(["rm", "-f", "-v", name]).catch(() => {});
      if (keys.length)
        await this.pruneSnapshots(spec.name, new Set(keys.map((_, i) => snapshot(i))));
    }
  }

  /** Snapshots a container after a passing step (bind mounts and cache volumes are not part of it). */
  private async commit(name: string, runName: string, tag: string): Promise<void> {
    await this.cmd(["commit", "--change", `LABEL ${SNAPSHOT_LABEL}=${slug(runName)}`, name, tag]);
  }

  /** Keeps one chain of snapshots per run name (the latest), so disk use stays bounded. */
  private async pruneSnapshots(runName: string, keep: Set<string>): Promise<void> {
    const tags = await this.cmd([
      "images",
      "--filter",
      `label=${SNAPSHOT_LABEL}=${slug(runName)}`,
      "--format",
      "{{.Repository}}:{{.Tag}}",
    ]).catch(() => "");
    const stale = tags.split("\n").filter((t) => t.startsWith(`${SNAPSHOT_REPO}:`) && !keep.has(t));
    if (stale.length) await this.cmd(["rmi", ...stale]).catch(() => {});
  }

  /** Starts a service on the run's network, reachable by its hostname. */
  async startService(spec: ServiceSpec): Promise<ServiceHandle> {
    const name = await this.start(spec, `svc-${spec.hostname}`, spec.args ?? [], {
      hostname: spec.hostname,
      ...(spec.useEntrypoint !== undefined ? { useEntrypoint: spec.useEntrypoint } : {}),
    });
    let stopped: Promise<void> | undefined;
    return {
      hostname: spec.hostname,
      stop: () => {
        stopped ??= this.cmd(["rm", "-f", "-v", name]).then(() => {});
        return stopped;
      },
    };
  }

  /** Builds one platform with BuildKit; the result is a run-scoped tag removed by close(). */
  async build(spec: BuildSpec): Promise<BuiltImage> {
    const tag = `codex-ci-build:${this.runId}-${slug(spec.platform)}-${++this.seq}`;
    const args = ["build", "--progress", "plain", "--platform", spec.platform, "--tag", tag];
    if (spec.dockerfile) args.push("--file", join(spec.context ?? ".", spec.dockerfile));
    if (spec.target) args.push("--target", spec.target);
    for (const [k, v] of Object.entries(spec.buildArgs ?? {}))
      args.push("--build-arg", `${k}=${v}`);
    for (const s of spec.secrets ?? [])
      args.push("--secret", `id=${s.name},src=${this.secretFile(s)}`);
    args.push(spec.context ?? ".");
    const log = spec.log ?? (() => {});
    const p = this.docker({
      nothrow: true,
      ...(spec.signal ? { signal: spec.signal } : {}),
    })`${DOCKER_BIN} ${args}`;
    this.procs.add(p);
    const lines = lineSplitter(log);
    p.stderr.on("data", (d: Buffer) => lines.push(d.toString()));
    try {
      const r = await p;
      lines.flush();
      if (r.exitCode !== 0)
        throw new StepFailed(`build ${spec.platform}`, "docker build", r.exitCode ?? -1, r.stderr);
    } finally {
      this.procs.delete(p);
    }
    this.buildTags.add(tag);
    return { platform: spec.platform, ref: tag };
  }

  /** `docker save` of the variants: a docker-archive tarball (`docker load` and `trivy --input` read it). */
  async exportImage(variants: BuiltImage[], tarPath: string): Promise<void> {
    await this.cmd(["save", "--output", tarPath, ...variants.map((v) => v.ref)]);
  }

  /** Pushes each variant as `<ref>-<arch>` and a manifest list `<ref>` over them; returns `<ref>@<digest>`. */
  async publishImage(variants: BuiltImage[], ref: string, auth?: RegistryAuth): Promise<string> {
    const config = mkdtempSync(join(tmpdir(), "codex-ci-docker-config-"));
    const env: Record<string, string> = auth ? { DOCKER_CONFIG: config } : {};
    try {
      if (auth) {
        const password =
          auth.password.value ?? (await $({ quiet: true })`cat ${auth.password.file}`).stdout;
        await this.cmd(["login", "--username", auth.username, "--password-stdin", auth.address], {
          env,
          input: password,
        });
      }
      const perArch = [];
      for (const v of variants) {
        const archRef = `${ref}-${slug(v.platform.replace(/^linux\//, ""))}`;
        await this.cmd(["tag", v.ref, archRef]);
        await this.cmd(["push", archRef], { env });
        perArch.push(archRef);
      }
      await this.cmd(["manifest", "create", "--insecure", "--amend", ref, ...perArch], { env });
      const digest = await this.cmd(["manifest", "push", "--insecure", "--purge", ref], { env });
      return `${ref}@${digest.split("\n").pop()}`;
    } finally {
      rmSync(config, { recursive: true, force: true });
    }
  }

  /** Tags the variant in the host's Docker (it is already there). */
  async loadImage(image: BuiltImage, tag: string): Promise<void> {
    await this.cmd(["tag", image.ref, tag]);
  }

  /** Kills running docker clients, then removes every container, network and volume labelled with this run. */
  close(): Promise<void> {
    this.closing ??= this.cleanUp();
    return this.closing;
  }

  /** The one cleanup of a run (close() shares it between Ctrl-C and the normal end). */
  private async cleanUp(): Promise<void> {
    this.closed = true;
    for (const p of this.procs) p.kill("SIGKILL").catch(() => {});
    const filter = ["--filter", `label=${RUN_LABEL}=${this.runId}`];
    const q = (args: string[]) =>
      this.cmd(args).then(
        (out) => out.split("\n").filter(Boolean),
        () => [],
      );
    // A run's own `rm -f` may be in flight; retry until the daemon lists none (bounded).
    for (let i = 0; i < 40; i++) {
      const containers = await q(["ps", "-aq", ...filter]);
      if (!containers.length) break;
      await this.cmd(["rm", "-f", "-v", ...containers]).catch(() => {});
      if (i > 0) await new Promise((r) => setTimeout(r, 250));
    }
    const networks = await q(["network", "ls", "-q", ...filter]);
    if (networks.length) await this.cmd(["network", "rm", ...networks]).catch(() => {});
    const volumes = await q(["volume", "ls", "-q", ...filter]);
    if (volumes.length) await this.cmd(["volume", "rm", "-f", ...volumes]).catch(() => {});
    if (this.buildTags.size) await this.cmd(["rmi", ...this.buildTags]).catch(() => {});
    if (this.secretDir) rmSync(this.secretDir, { recursive: true, force: true });
  }
}

/** Opens the Docker engine for one run. */
export async function openDocker(runId: string, opts = { cache: true }): Promise<Engine> {
  return new DockerEngine(runId, opts.cache);
}
