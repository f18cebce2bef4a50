/**
 * Stage `build`: docker/Dockerfile for every configured platform, with the OCI label build args
 * and the CA bundle as a BuildKit secret. Then either publishes every tag as a multi-platform
 * image (`--push`, CODEX_REGISTRY) or writes one tarball per platform under reports/images/.
 * The native variant is loaded into the host's Docker under every tag for `deploy`.
 */
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  archOf,
  canRun,
  emulationHint,
  looksLikeNoEmulation,
  nativePlatform,
} from "../build/emulation.js";
import { type BuildManifest, manifestPath, writeManifest } from "../build/manifest.js";
import { imageTags, labelArgs, type SourceFacts, sourceFacts } from "../build/metadata.js";
import { pushTarget } from "../build/registry.js";
import { nodeImage } from "../config.js";
import { execLocal } from "../deploy/host.js";
import type { BuiltImage } from "../engine.js";
import { DOCKER_BIN } from "../host.js";
import type { CellResult, PlanFn, StageContext, StageFn } from "../stage.js";
import { platformRef } from "./images.js";

/** The Dockerfile, relative to the repo root (the build context). */
export const DOCKERFILE = "docker/Dockerfile";

/** Build args: the OCI labels plus the base image from config. Never secrets. */
function buildArgs(ctx: Pick<StageContext, "config">, facts: SourceFacts): Record<string, string> {
  return { ...labelArgs(facts), NODE_IMAGE: nodeImage(ctx.config, ctx.config.image.nodeVersion) };
}

/**
 * The base image for one platform. Docker 20.10 keeps one platform per tag, so offline hosts hold
 * per-arch aliases (`node:24-bookworm-slim-arm64`, from `images --offline`): use the alias when the
 * daemon has it for that platform, else the configured name.
 */
async function baseImage(ctx: StageContext, platform: string): Promise<string> {
  const ref = nodeImage(ctx.config, ctx.config.image.nodeVersion);
  if (ctx.engine.name !== "docker") return ref;
  const alias = platformRef(ref, platform);
  const r = await execLocal([
    DOCKER_BIN,
    "image",
    "inspect",
    "--format",
    "{{.Os}}/{{.Architecture}}",
    alias,
  ]);
  return r.exitCode === 0 && r.stdout.trim() === platform ? alias : ref;
}

/** Builds one platform; a platform the host cannot emulate fails with what to install. */
async function buildPlatform(
  ctx: StageContext,
  platform: string,
  args: Record<string, string>,
  started: () => void,
): Promise<BuiltImage> {
  if (ctx.engine.name === "docker" && !process.env.DOCKER_HOST && canRun(platform) === false)
    throw new Error(emulationHint(platform));
  try {
    return await ctx.engine.build({
      context: ctx.root,
      dockerfile: DOCKERFILE,
      platform,
      buildArgs: {
        ...args,
        NODE_IMAGE: await baseImage(ctx, platform),
        BUILD_NODE_IMAGE: await baseImage(ctx, nativePlatform()),
      },
      secrets: ctx.ca ? [ctx.ca] : [],
      log: ctx.cellLog(platform),
      signal: ctx.signal,
      started,
    });
  } catch (e) {
    const tail = (e as { tail?: string }).tail ?? (e as Error).message;
    if (looksLikeNoEmulation(tail)) throw new Error(emulationHint(platform));
    throw e;
  }
}

/** Writes a tarball of `images` atomically as reports/images/<file>; returns its repo path. */
async function exportTar(ctx: StageContext, images: BuiltImage[], file: string): Promise<string> {
  const rel = join("reports", "images", file);
  const abs = join(ctx.root, rel);
  await mkdir(join(ctx.root, "reports", "images"), { recursive: true });
  await ctx.engine.exportImage(images, `${abs}.partial`).catch(async (e) => {
    await rm(`${abs}.partial`, { force: true });
    throw e;
  });
  await rename(`${abs}.partial`, abs);
  return rel;
}

/**
 * Runs a step of the stage as a summary cell; returns its value, or undefined when it failed. `fn` may call
 * `started` when it gets a `--jobs` slot, so the cell's time leaves out the wait.
 */
async function cell<T>(
  cells: CellResult[],
  name: string,
  fn: (started: () => void) => Promise<T>,
): Promise<T | undefined> {
  let t0 = Date.now();
  try {
    const v = await fn(() => {
      t0 = Date.now();
    });
    cells.push({ name, status: "passed", durationMs: Date.now() - t0 });
    return v;
  } catch (e) {
    cells.push({
      name,
      status: "failed",
      durationMs: Date.now() - t0,
      detail: (e as Error).message.split("\n")[0] as string,
    });
    return undefined;
  }
}

/** The stage. */
export const run: StageFn = async (ctx) => {
  // A failed build must not leave the last build's record for scan or deploy to pick up.
  await rm(manifestPath(ctx.root), { force: true });
  const facts = await sourceFacts(ctx.root);
  const tags = imageTags(ctx.config.image.tags, facts);
  const name = ctx.config.image.name;
  const target = ctx.options.push ? pushTarget() : undefined;
  const args = buildArgs(ctx, facts);
  ctx.log(
    `${name} ${tags.join(", ")} for ${ctx.config.platforms.join(", ")} (revision ${facts.revision.slice(0, 7)}, created ${facts.created})`,
  );
  const cells: CellResult[] = [];
  const built = await Promise.all(
    ctx.config.platforms.map((p) =>
      cell(cells, p, (started) => buildPlatform(ctx, p, args, started)),
    ),
  );
  const images = built.filter((b): b is BuiltImage => b !== undefined);
  const failed = cells.filter((c) => c.status === "failed");
  if (failed.length > 0)
    return {
      status: "failed",
      detail: failed.map((c) => `${c.name}: ${c.detail}`).join("; "),
      cells,
    };

  const manifest: BuildManifest = {
    image: name,
    tags,
    deployTag: tags.find((t) => t.startsWith("sha-")) ?? (tags[0] as string),
    platforms: images.map((i) => ({ platform: i.platform })),
    published: [],
    revision: facts.revision,
    version: facts.version,
    created: facts.created,
  };
  if (target) {
    for (const tag of tags) {
      const ref = `${target.repository}/${name}:${tag}`;
      const pushed = await cell(cells, `push ${tag}`, () =>
        ctx.engine.publishImage(images, ref, target.auth),
      );
      if (pushed) manifest.published.push(pushed);
    }
  } else {
    // One tarball per platform: what `scan` reads with `trivy --input` and `deploy` can `docker load`.
    for (const [i, image] of images.entries()) {
      const tar = await cell(cells, `export ${image.platform}`, () =>
        exportTar(ctx, [image], `${name}-${archOf(image.platform)}.tar`),
      );
      if (tar) (manifest.platforms[i] as { tarball?: string }).tarball = tar;
    }
    // With Dagger, also the multi-platform OCI tarball (an image index) to publish elsewhere later.
    if (ctx.engine.name === "dagger" && images.length > 1) {
      const tar = await cell(cells, "export multi-platform", () =>
        exportTar(ctx, images, `${name}.oci.tar`),
      );
      if (tar) manifest.multiPlatformTarball = tar;
    }
  }
  const native = images.find((i) => i.platform === nativePlatform());
  if (native) {
    manifest.loaded = native.platform;
    await cell(cells, "load", async () => {
      for (const tag of tags) await ctx.engine.loadImage(native, `${name}:${tag}`);
      // Per-arch local tags cost nothing on the Docker engine (a `docker tag` each).
      if (ctx.engine.name === "docker")
        for (const image of images)
          await ctx.engine.loadImage(
            image,
            `${name}:${manifest.deployTag}-${archOf(image.platform)}`,
          );
    });
  } else
    ctx.log(`no ${nativePlatform()} variant built, so nothing is loaded into the host's Docker`);
  await writeManifest(ctx.root, manifest);
  const bad = cells.filter((c) => c.status === "failed");
  if (bad.length > 0)
    return { status: "failed", detail: bad.map((c) => `${c.name}: ${c.detail}`).join("; "), cells };
  const where = target ? `pushed ${manifest.published.join(", ")}` : `tarballs in reports/images/`;
  return {
    status: "passed",
    detail: `${name}:${tags.join(", :")} for ${images.length} platform(s); ${where}`,
    cells,
  };
};

/** The builds it would run. */
export const plan: PlanFn = (ctx) =>
  ctx.config.platforms.map((platform) => ({
    name: platform,
    image: DOCKERFILE,
    platform,
    steps: [
      `docker build --platform ${platform} -f ${DOCKERFILE} --build-arg OCI_VERSION --build-arg OCI_REVISION --build-arg OCI_CREATED --build-arg NODE_IMAGE=${nodeImage(ctx.config, ctx.config.image.nodeVersion)}${ctx.ca ? " --secret id=npm_ca" : ""} .`,
      ctx.options.push
        ? `publish $CODEX_REGISTRY/${ctx.config.image.name}:<tags> (multi-platform)`
        : `export reports/images/${ctx.config.image.name}-${archOf(platform)}.tar`,
    ],
  }));
