/**
 * Containers of a run: created with the run's label, filled (source as a tar stream, never a bind mount),
 * started, and a step at a time through `docker exec`.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { ContainerSpec, RunSpec, Secret, Step, StepResult } from "../../engine.js";
import { DOCKER_SOCKET } from "../../lib/docker-bin.js";
import { start } from "../../lib/process.js";
import { CACHE_LABEL, type DockerCli, RUN_LABEL, slug } from "./cli.js";

/** What the containers of one run share: the client, the run's id and network, its secret files. */
export class Containers {
  private seq = 0;
  private network?: Promise<string>;
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

  /** A host file holding the secret, for a read-only bind mount (a value goes to a private temp dir). */
  private secretFile(s: Secret): string {
    if (s.file !== undefined) return resolve(s.file);
    this.secretDir ??= mkdtempSync(join(tmpdir(), "codex-ci-secrets-"));
    const path = join(this.secretDir, `${slug(s.name)}-${randomBytes(4).toString("hex")}`);
    writeFileSync(path, s.value, { mode: 0o600 });
    return path;
  }

  /** A secret file for `docker build --secret src=…`. */
  buildSecretFile(s: Secret): string {
    return this.secretFile(s);
  }

  /** The run's user-defined network, created on first use. */
  private net(): Promise<string> {
    this.network ??= (async () => {
      const name = `codex-ci-${this.runId}`;
      await this.docker.must(["network", "create", "--label", `${RUN_LABEL}=${this.runId}`, name], {
        kind: "short",
      });
      return name;
    })();
    return this.network;
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
    extra: { useEntrypoint?: boolean; hostname?: string } = {},
  ): Promise<string> {
    if (this.closed) throw new Error(`${what}: the run is closing`);
    const name = this.nameFor(what);
    const args = ["create", "--name", name, "--label", `${RUN_LABEL}=${this.runId}`];
    if (spec.platform) args.push("--platform", spec.platform);
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
    if (this.closed) throw new Error(`${what}: the run is closing`);
    await this.docker.must(args, { env: secretEnv, kind: "short" });
    if (spec.source)
      await this.copySource(
        name,
        spec.source.from ?? ".",
        spec.source.to,
        spec.source.exclude ?? [],
      );
    await this.docker.must(["start", name], { kind: "short" });
    return name;
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
