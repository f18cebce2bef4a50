/**
 * Containers of a run: created with the run's label, filled through the client (source and files as tar
 * streams, never a bind mount, so the daemon may be remote), started, and a step at a time through `docker exec`.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import type { ContainerSpec, RunSpec, Secret, Step, StepResult } from "../../engine.js";
import { start } from "../../lib/process.js";
import { CACHE_LABEL, type DockerCli, RUN_LABEL, slug } from "./cli.js";

/** What the containers of one run share: the client, the run's id and network, its secret files. */
export class Containers {
  private seq = 0;
  /** Private temp dir for secret values, made on first use; the engine removes it on close. */
  secretDir?: string;
  closed = false;

  constructor(
    private readonly docker: DockerCli,
    private readonly runId: string,
  ) {}

  /** A unique container name for this run. */
  private nameFor(what: string): string {
    this.seq += 1;
    return `codex-ci-${this.runId}-${slug(what).slice(0, 40)}-${this.seq}`;
  }

  /** A host file holding the secret, for `docker build --secret src=…`, which the client reads. */
  buildSecretFile(s: Secret): string {
    if (s.file !== undefined) return resolve(s.file);
    this.secretDir ??= mkdtempSync(join(tmpdir(), "codex-ci-secrets-"));
    const path = join(this.secretDir, `${slug(s.name)}-${randomBytes(4).toString("hex")}`);
    writeFileSync(path, s.value, { mode: 0o600 });
    return path;
  }

  /** A user-defined network of the run, for one container and its services. */
  async network(what: string): Promise<string> {
    if (this.closed) throw new Error(`${what}: the run is closing`);
    const name = this.nameFor(`net-${what}`);
    await this.docker.must(["network", "create", "--label", `${RUN_LABEL}=${this.runId}`, name], {
      kind: "short",
    });
    return name;
  }

  /** A volume of this run only, removed with the run's other resources. */
  async runVolume(what: string): Promise<string> {
    if (this.closed) throw new Error(`${what}: the run is closing`);
    const name = this.nameFor(`vol-${what}`);
    await this.docker.must(["volume", "create", "--label", `${RUN_LABEL}=${this.runId}`, name], {
      kind: "short",
    });
    return name;
  }

  /** Creates a labelled cache volume once (idempotent), so it is known as ours and persists. */
  private async cacheVolume(name: string): Promise<void> {
    await this.docker.must(["volume", "create", "--label", `${CACHE_LABEL}=1`, name], {
      kind: "short",
    });
  }

  /**
   * Creates, fills and starts a container; returns its name. `cmd` replaces the entrypoint unless
   * `useEntrypoint`. Refuses once the run is closing, so nothing is made after cleanup has listed.
   */
  async start(
    spec: ContainerSpec,
    what: string,
    cmd: string[],
    extra: {
      useEntrypoint?: boolean;
      hostname?: string;
      network?: string;
      runtime?: string[];
    } = {},
  ): Promise<string> {
    if (this.closed) throw new Error(`${what}: the run is closing`);
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
    for (const [path, vol] of Object.entries(spec.caches ?? {})) {
      await this.cacheVolume(vol);
      args.push("--mount", `type=volume,src=${vol},dst=${path}`);
    }
    if (extra.network) args.push("--network", extra.network);
    if (extra.hostname) args.push("--network-alias", extra.hostname, "--hostname", extra.hostname);
    args.push(...(extra.runtime ?? []));
    const [bin, ...rest] = cmd;
    if (extra.useEntrypoint || !bin) args.push(spec.image, ...cmd);
    else args.push("--entrypoint", bin, spec.image, ...rest);
    if (this.closed) throw new Error(`${what}: the run is closing`);
    await this.docker.must(args, { env: secretEnv, kind: "short" });
    try {
      for (const f of spec.files ?? []) await this.copyFile(name, f.from, f.to);
      const src = spec.source;
      if (src) await this.copySource(name, src.from ?? ".", src.to, src.exclude ?? []);
      await this.docker.must(["start", name], { kind: "short" });
    } catch (e) {
      await this.remove(name);
      throw e;
    }
    return name;
  }

  /**
   * Copies one host file to `to` in the container (parents made as needed), as a tar stream through the
   * client: the daemon may be on another machine, so nothing is bind-mounted.
   */
  async copyFile(name: string, from: string, to: string): Promise<void> {
    const abs = resolve(from);
    const tar = start([
      "tar",
      "-C",
      dirname(abs),
      "--dereference",
      "--owner=0",
      "--group=0",
      "--transform",
      `s|.*|${to.replace(/^\/+/, "")}|`,
      "-cf",
      "-",
      basename(abs),
    ]);
    const r = await tar.pipe(this.docker.start(["cp", "-", `${name}:/`]));
    if (r.exitCode !== 0)
      throw new Error(
        `copying ${from} to ${to} in ${name} failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`,
      );
  }

  /** Copies a host directory into the container as a tar stream (works before start, so services get it too). */
  async copySource(name: string, from: string, to: string, exclude: string[]): Promise<void> {
    const prefix = to.replace(/^\/+|\/+$/g, "");
    const tar = start([
      "tar",
      "-C",
      from,
      ...exclude.map((e) => `--exclude=${e}`),
      "--transform",
      `s,^\\.,${prefix},`,
      "-cf",
      "-",
      ".",
    ]);
    const cp = this.docker.start(["cp", "-", `${name}:/`]);
    const r = await tar.pipe(cp);
    if (r.exitCode !== 0)
      throw new Error(
        `copying ${from} into ${name} failed: ${r.stderr.trim() || `exit ${r.exitCode}`}`,
      );
  }

  /** Runs one step with `docker exec`, streaming its output; returns its result. */
  async exec(name: string, spec: RunSpec, step: Step): Promise<StepResult> {
    const log = spec.log ?? (() => {});
    spec.step?.(step.name);
    log(`$ ${step.args.join(" ")}`);
    const args = ["exec"];
    for (const [k, v] of Object.entries(step.env ?? {})) args.push("--env", `${k}=${v}`);
    const t0 = Date.now();
    const r = await this.docker.try([...args, name, ...step.args], {
      onLine: log,
      ...(spec.signal ? { signal: spec.signal } : {}),
    });
    return {
      name: step.name,
      exitCode: r.exitCode,
      stdout: r.stdout,
      stderr: r.stderr,
      durationMs: Date.now() - t0,
    };
  }

  /** Removes a container and its anonymous volumes. */
  async remove(name: string): Promise<void> {
    await this.docker.try(["rm", "-f", "-v", name], { kind: "short" });
  }
}
