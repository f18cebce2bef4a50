/**
 * build: docker/Dockerfile for every configured platform, with the OCI labels and the CA bundle as a BuildKit
 * secret. Writes one tarball per platform under reports/images/ (what scan reads), and with `--push` publishes
 * every tag as a multi-platform manifest list. The native variant is loaded into the Docker daemon under every
 * tag, each variant under `<deploy tag>-<arch>`, for `deploy` and for people to run.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { nodeImage } from "../../config.js";
import type { BuildSpec, BuiltImage } from "../../engine.js";
import { firstLine } from "../../lib/cells.js";
import { produceAtomic } from "../../lib/files.js";
import { caSecret } from "../../lib/node-env.js";
import { archOf, nativePlatform } from "../../lib/platform.js";
import type {
  CellResult,
  Job,
  PlanContext,
  Stage,
  StageContext,
  StageResult,
} from "../../stage.js";
import { type BuildManifest, manifestPath, writeManifest } from "./manifest.js";
import { imageTags, labelArgs, type SourceFacts, sourceFacts, sourceLabels } from "./metadata.js";
import { insecureRegistry, type PushTarget, pushTarget } from "./registry.js";

/** The Dockerfile, relative to the repo root (the build context). */
export const DOCKERFILE = "docker/Dockerfile";

/** What build hands to scan and deploy. */
export interface BuildOutput {
  manifest: BuildManifest;
  images: BuiltImage[];
}

/** One platform's build: OCI labels and base images as build args (never secrets), the CA as a secret. */
function buildSpec(ctx: PlanContext, facts: SourceFacts, platform: string): BuildSpec {
  const base = nodeImage(ctx.config, ctx.config.image.nodeVersion);
  const ca = caSecret(ctx);
  return {
    context: ctx.root,
    dockerfile: DOCKERFILE,
    platform,
    // The build stage runs on the builder's own platform (no npm ci under qemu); the runtime stage on `platform`.
    buildArgs: { ...labelArgs(facts), NODE_IMAGE: base, BUILD_NODE_IMAGE: base },
    baseImages: { NODE_IMAGE: platform, BUILD_NODE_IMAGE: nativePlatform() },
    labels: sourceLabels(facts),
    secrets: ca ? [ca] : [],
  };
}

/** The tarball of one platform, as scan reads it and deploy loads it. */
const tarballOf = (ctx: PlanContext, platform: string) =>
  join("reports", "images", `${ctx.config.image.name}-${archOf(platform)}.tar`);

/** Where `--push` publishes, when it is given. */
const targetOf = (ctx: PlanContext): PushTarget | undefined =>
  ctx.options.push
    ? pushTarget(ctx.settings.registry, {
        ...(ctx.options.registry ? { flag: ctx.options.registry } : {}),
        config: ctx.config.build.registry,
      })
    : undefined;

/** What build does: one Dockerfile build per platform, then export (and publish), then load. */
async function describe(ctx: PlanContext): Promise<Job[]> {
  const facts = await sourceFacts(ctx.root, ctx.settings.ci);
  const tags = imageTags(ctx.config.image.tags, facts);
  const name = ctx.config.image.name;
  const builds: Job[] = ctx.config.platforms.map((platform) => ({
    kind: "build",
    name: platform,
    spec: buildSpec(ctx, facts, platform),
  }));
  const target = ctx.options.push ? pushTarget(ctx.settings.registry) : undefined;
  const ship = target
    ? tags.map(
        (t) => `publish ${target.repository}/${name}:${t} (${ctx.config.platforms.join(", ")})`,
      )
    : ctx.config.platforms.map((p) => `export ${tarballOf(ctx, p)}`);
  return [
    ...builds,
    {
      kind: "action",
      name: target ? "publish" : "export",
      lines: [
        ...ship,
        `load ${nativePlatform()} as ${name}:${tags.join(`, ${name}:`)}; each platform as ${name}:<sha tag>-<arch>`,
      ],
    },
  ];
}

/** Runs each platform's build as a row; the built images, or the failed rows. */
async function buildAll(
  ctx: StageContext,
  jobs: Job[],
  cells: CellResult[],
): Promise<BuiltImage[]> {
  const rows = await Promise.all(
    jobs.flatMap((j) =>
      j.kind === "build"
        ? [
            ctx.row(j.name, (row) => ctx.engine.build({ ...j.spec, ...row, signal: ctx.signal }), {
              signal: ctx.signal,
            }),
          ]
        : [],
    ),
  );
  cells.push(...rows.map((r) => r.cell));
  return rows.flatMap((r) => (r.value ? [r.value] : []));
}

/** Runs a step of the stage as a row; its value, or undefined when it failed. */
async function row<T>(
  ctx: StageContext,
  cells: CellResult[],
  name: string,
  fn: () => Promise<T>,
): Promise<T | undefined> {
  const { cell, value } = await ctx.row(name, () => fn());
  cells.push(cell);
  return value;
}

async function run(ctx: StageContext): Promise<StageResult<BuildOutput>> {
  // A failed build must not leave the last build's record for scan or deploy to pick up.
  await rm(manifestPath(ctx.root), { force: true });
  const facts = await sourceFacts(ctx.root, ctx.settings.ci);
  const tags = imageTags(ctx.config.image.tags, facts);
  const name = ctx.config.image.name;
  const target = targetOf(ctx);
  ctx.log(
    `${name} ${tags.join(", ")} for ${ctx.config.platforms.join(", ")} (revision ${facts.revision.slice(0, 7)}, created ${facts.created})`,
  );
  const cells: CellResult[] = [];
  const images = await buildAll(ctx, await describe(ctx), cells);
  const failedRows = () => cells.filter((c) => c.status !== "passed");
  if (failedRows().length > 0)
    return {
      status: "failed",
      detail: failedRows()
        .map((c) => `${c.name}: ${c.detail}`)
        .join("; "),
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
  // One tarball per platform: what `scan` reads with `trivy --input` and `deploy` can `docker load`.
  for (const [i, image] of images.entries()) {
    const rel = tarballOf(ctx, image.platform);
    const written = await row(ctx, cells, `export ${image.platform}`, async () => {
      await produceAtomic(join(ctx.root, rel), (tmp) => ctx.engine.exportImage([image], tmp));
      return rel;
    });
    if (written) (manifest.platforms[i] as { tarball?: string }).tarball = written;
  }
  // Where the engine writes multi-platform archives, one more to publish elsewhere later.
  if (ctx.engine.capabilities.multiPlatformExport && images.length > 1) {
    const rel = join("reports", "images", `${name}.oci.tar`);
    const written = await row(ctx, cells, "export multi-platform", async () => {
      await produceAtomic(join(ctx.root, rel), (tmp) => ctx.engine.exportImage(images, tmp));
      return rel;
    });
    if (written) manifest.multiPlatformTarball = written;
  }
  if (target) {
    const address = target.repository.split("/")[0] as string;
    for (const tag of tags) {
      const ref = `${target.repository}/${name}:${tag}`;
      const pushed = await row(ctx, cells, `push ${tag}`, () =>
        ctx.engine.publishImage(images, ref, {
          ...(target.auth ? { auth: target.auth } : {}),
          insecure: insecureRegistry(address, ctx.config.build.insecureRegistries),
        }),
      );
      if (pushed) manifest.published.push(pushed);
    }
  }
  const native = images.find((i) => i.platform === nativePlatform());
  if (native && !ctx.engine.capabilities.loadsImages)
    ctx.log(
      "no Docker daemon to load into (the Dagger module's runner): the module returns the image",
    );
  else if (native) {
    manifest.loaded = native.platform;
    await row(ctx, cells, "load", async () => {
      for (const tag of tags) await ctx.engine.loadImage(native, `${name}:${tag}`);
      for (const image of images)
        await ctx.engine.loadImage(
          image,
          `${name}:${manifest.deployTag}-${archOf(image.platform)}`,
        );
    });
  } else
    ctx.log(`no ${nativePlatform()} variant built, so nothing is loaded into the Docker daemon`);
  await writeManifest(ctx.root, manifest);
  const output: BuildOutput = { manifest, images };
  if (failedRows().length > 0)
    return {
      status: "failed",
      detail: failedRows()
        .map((c) => `${c.name}: ${firstLine(c.detail ?? "")}`)
        .join("; "),
      cells,
      output,
    };
  const where = `tarballs in reports/images/${target ? `; pushed ${manifest.published.join(", ")}` : ""}`;
  return {
    status: "passed",
    detail: `${name}:${tags.join(", :")} for ${images.length} platform(s); ${where}`,
    cells,
    output,
  };
}

export const build = {
  name: "build",
  about: "docker/Dockerfile for every platform (amd64 + arm64), published with --push or exported",
  needs: [],
  describe,
  run,
} as const satisfies Stage<BuildOutput>;
