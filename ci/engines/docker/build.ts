/** Images on the Docker engine: BuildKit builds, `docker save`, push with a manifest list, and local tags. */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildSpec, BuiltImage, PublishOptions } from "../../engine.js";
import { canRun, emulationHint, looksLikeNoEmulation, platformRef } from "../../lib/platform.js";
import { StepFailed } from "../errors.js";
import type { DockerCli } from "./cli.js";
import { slug } from "./cli.js";

/**
 * The image to build on for `platform`: Docker 20.10 keeps one platform per tag, so offline hosts hold
 * per-platform aliases (`node:24-bookworm-slim-arm64`, from `images --offline`). The alias when the daemon
 * has it for that platform, else the name as given (a registry serves every platform under it).
 */
async function imageFor(docker: DockerCli, ref: string, platform: string): Promise<string> {
  const alias = platformRef(ref, platform);
  const r = await docker.try(["image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", alias]);
  return r.exitCode === 0 && r.stdout.trim() === platform ? alias : ref;
}

/**
 * Builds one platform with BuildKit under a run-scoped tag. A platform the local kernel cannot run fails
 * first with what to install; a remote daemon (DOCKER_HOST) is left to say so itself.
 */
export async function buildImage(
  docker: DockerCli,
  spec: BuildSpec,
  tag: string,
  opts: { remote: boolean; secretFile: (s: NonNullable<BuildSpec["secrets"]>[number]) => string },
): Promise<BuiltImage> {
  if (!opts.remote && canRun(spec.platform) === false)
    throw new Error(emulationHint(spec.platform));
  const buildArgs = { ...spec.buildArgs };
  for (const [arg, platform] of Object.entries(spec.baseImages ?? {}))
    if (buildArgs[arg]) buildArgs[arg] = await imageFor(docker, buildArgs[arg], platform);
  const args = ["build", "--progress", "plain", "--platform", spec.platform, "--tag", tag];
  if (spec.dockerfile) args.push("--file", join(spec.context ?? ".", spec.dockerfile));
  if (spec.target) args.push("--target", spec.target);
  for (const [k, v] of Object.entries(buildArgs)) args.push("--build-arg", `${k}=${v}`);
  for (const [k, v] of Object.entries(spec.labels ?? {})) args.push("--label", `${k}=${v}`);
  for (const s of spec.secrets ?? [])
    args.push("--secret", `id=${s.name},src=${opts.secretFile(s)}`);
  args.push(spec.context ?? ".");
  const log = spec.log ?? (() => {});
  const r = await docker.try(args, {
    onLine: (line) => {
      // BuildKit's plain progress names each Dockerfile step once, as it starts: "#9 [build 3/7] RUN npm ci".
      const step = /^#\d+ \[([^\]]+)\] (.+)$/.exec(line);
      if (step) spec.step?.(`[${step[1]}] ${step[2]}`);
      log(line);
    },
    ...(spec.signal ? { signal: spec.signal } : {}),
  });
  if (r.exitCode !== 0) {
    if (looksLikeNoEmulation(r.stderr)) throw new Error(emulationHint(spec.platform));
    throw new StepFailed(`build ${spec.platform}`, "docker build", r.exitCode, r.stderr);
  }
  return { platform: spec.platform, ref: tag };
}

/** `docker save` of the variants: a docker-archive tarball (`docker load` and `trivy --input` read it). */
export async function saveImage(docker: DockerCli, variants: BuiltImage[], tarPath: string) {
  await docker.must(["save", "--output", tarPath, ...variants.map((v) => v.ref)]);
}

/**
 * Pushes each variant as `<ref>-<arch>` and a manifest list `<ref>` over them; returns `<ref>@<digest>`.
 * Credentials live in a private DOCKER_CONFIG for the push only. `docker manifest` gets `--insecure` (plain
 * HTTP allowed, TLS unchecked) only for a registry the caller says is insecure.
 */
export async function pushImage(
  docker: DockerCli,
  variants: BuiltImage[],
  ref: string,
  opts: PublishOptions,
): Promise<string> {
  const config = mkdtempSync(join(tmpdir(), "codex-ci-docker-config-"));
  const env: Record<string, string> = opts.auth ? { DOCKER_CONFIG: config } : {};
  const insecure = opts.insecure ? ["--insecure"] : [];
  try {
    if (opts.auth) {
      const password = opts.auth.password.value ?? readFileSync(opts.auth.password.file, "utf8");
      await docker.must(
        ["login", "--username", opts.auth.username, "--password-stdin", opts.auth.address],
        { env, input: password },
      );
    }
    const perArch = [];
    for (const v of variants) {
      const archRef = `${ref}-${slug(v.platform.replace(/^linux\//, ""))}`;
      await docker.must(["tag", v.ref, archRef]);
      await docker.must(["push", archRef], { env });
      perArch.push(archRef);
    }
    await docker.must(["manifest", "create", ...insecure, "--amend", ref, ...perArch], { env });
    const digest = await docker.must(["manifest", "push", ...insecure, "--purge", ref], { env });
    return `${ref}@${digest.split("\n").pop()}`;
  } finally {
    rmSync(config, { recursive: true, force: true });
  }
}
