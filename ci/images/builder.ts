/** Image builds with Debian's docker client (20.10, BuildKit built in): temporary tag first, final tags last. */
import { randomBytes } from "node:crypto";
import { $, fs, path } from "zx";
import { STAND_IN_LABEL } from "../lib/stand-ins.js";

/** Repository of the temporary tags builds use before the final tags are applied. */
const TEMP_REPO = "codex-offline-tmp";

/** Removes temporary tags an interrupted run left (call under the cache lock: no other run is building). */
export async function removeTempTags(docker: string): Promise<void> {
  const r = await $`${docker} images --format ${"{{.Repository}}:{{.Tag}}"} ${TEMP_REPO}`;
  for (const tag of r.stdout.split("\n").filter(Boolean))
    await $({ nothrow: true })`${docker} rmi ${tag}`;
}

/** The os/arch of a local image, or undefined when it is absent. */
export async function imagePlatform(docker: string, ref: string): Promise<string | undefined> {
  const r = await $({
    nothrow: true,
  })`${docker} image inspect --format ${"{{.Os}}/{{.Architecture}}"} ${ref}`;
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** The ID of a local image, or undefined when it is absent. */
async function imageId(docker: string, ref: string): Promise<string | undefined> {
  const r = await $({ nothrow: true })`${docker} image inspect --format ${"{{.Id}}"} ${ref}`;
  return r.exitCode === 0 ? r.stdout.trim() : undefined;
}

/** True when every ref is present locally and built for `platform` (e.g. `linux/arm64`). */
export async function allPresent(
  docker: string,
  refs: string[],
  platform: string,
): Promise<boolean> {
  const found = await Promise.all(refs.map((r) => imagePlatform(docker, r)));
  return found.every((p) => p === platform);
}

/**
 * Builds `dockerfile` with the given files (hard-linked or copied into a throwaway context) for `platform`,
 * under a temporary tag, then applies the final `tags`; on failure no final tag is touched and the
 * temporary one is removed.
 */
export async function buildImage(opts: {
  docker: string;
  workDir: string;
  dockerfile: string;
  files: Record<string, string>;
  platform: string;
  tags: string[];
  /** What the stand-in really holds, for its label (`--plan` shows it), e.g. "Debian prometheus 2.42.0". */
  standIn: string;
}): Promise<string> {
  const docker = opts.docker;
  const ctx = path.join(opts.workDir, `ctx-${randomBytes(4).toString("hex")}`);
  const temp = `${TEMP_REPO}:${randomBytes(6).toString("hex")}`;
  try {
    await fs.ensureDir(ctx);
    await fs.writeFile(path.join(ctx, "Dockerfile"), opts.dockerfile);
    for (const [name, src] of Object.entries(opts.files)) {
      await fs.link(src, path.join(ctx, name)).catch(() => fs.copy(src, path.join(ctx, name)));
    }
    await $({
      env: { ...$.env, DOCKER_BUILDKIT: "1" },
    })`${docker} build --quiet --platform ${opts.platform} --label ${`${STAND_IN_LABEL}=${opts.standIn}`} -t ${temp} ${ctx}`;
    const got = await imagePlatform(docker, temp);
    if (got !== opts.platform) throw new Error(`built image is ${got}, expected ${opts.platform}`);
    const replaced = await Promise.all(opts.tags.map((t) => imageId(docker, t)));
    for (const tag of opts.tags) await $`${docker} tag ${temp} ${tag}`;
    // An image the new tags replaced is removed if nothing else uses it (no -f: in-use images stay).
    for (const id of new Set(replaced)) if (id) await $({ nothrow: true })`${docker} rmi ${id}`;
    return (await $`${docker} image inspect --format ${"{{.Id}}"} ${temp}`).stdout.trim();
  } finally {
    await $({ nothrow: true })`${docker} rmi ${temp}`;
    await fs.rm(ctx, { recursive: true, force: true });
  }
}
