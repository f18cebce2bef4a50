/**
 * `images --offline` (`npx tsx ci/main.ts images --offline`): builds stand-ins for the registry images the
 * pipeline and the Dockerfile use, from Debian packages (mmdebstrap) and Node from npm, tagged with the names
 * the pipeline expects.
 */
import { fileURLToPath } from "node:url";
import { $, fs, path, within } from "zx";
import { enableEmulation } from "../lib/binfmt.js";
import { localRows } from "../lib/cells.js";
import { nativePlatform, platformRef } from "../lib/platform.js";
import type { RowHooks, RowRunner } from "../progress.js";
import { allPresent, buildImage, removeTempTags } from "./builder.js";
import { acquireLock } from "./lock.js";
import { nodeLayer, resolveNode, resolveNpm } from "./node.js";
import {
  alertmanagerRootfs,
  type DebArch,
  dindRootfs,
  nodeRootfs,
  prometheusRootfs,
  type RootfsSpec,
  rootfs,
  rootfsPackageVersion,
  upgradeInstructions,
} from "./rootfs.js";
import { all, ImagesFailedError, memo, step as namedStep } from "./step.js";

export { ImageStepError, ImagesFailedError } from "./step.js";

export interface OfflineImagesOptions {
  refs: { node: string; prometheus: string; alertmanager: string; dind: string }; // from config.images
  nodeVersions: string[]; // test matrix versions, built for the native platform
  buildNodeVersion: string; // the Dockerfile's NODE_IMAGE version, built for every platform
  platforms: string[]; // e.g. ["linux/amd64", "linux/arm64"]
  force: boolean; // rebuild even when present
  dockerBin: string; // the docker client (BuildKit built in)
  log: (line: string) => void;
  /** One row per image, with its phase (the entry's display); else the lines go to `log`. */
  rows?: RowRunner;
  /** Where rootfs and Node tarballs are cached; default `.cache/images` in the repo. */
  cacheDir?: string;
}

/** One image to make: its final tags and platform, and how to build it. */
interface Target {
  ref: string;
  tags: string[];
  platform: string;
  build: () => Promise<void>;
}

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const ARCHES: Record<string, DebArch> = { "linux/amd64": "amd64", "linux/arm64": "arm64" };
const NATIVE = nativePlatform();

/** The Debian arch of a platform, or a clear error for one we cannot build. */
function debArch(platform: string): DebArch {
  const arch = ARCHES[platform];
  if (!arch)
    throw new Error(
      `platform ${platform}: offline images support ${Object.keys(ARCHES).join(", ")}`,
    );
  return arch;
}

/** The upstream version in a tag like `v2.42.0` or `2.42.0`. */
function tagVersion(ref: string): string {
  return (ref.split(":").at(-1) ?? "").replace(/^v/, "");
}

/** The day (UTC) the images' Debian packages are upgraded as of. */
const today = () => new Date().toISOString().slice(0, 10);

/**
 * A node image's Dockerfile: the shared Debian layer upgraded from bookworm-security and bookworm-updates
 * (enabled in its apt sources, as in upstream's images), then Node and npm at /usr/local, like upstream's slim image.
 */
function nodeDockerfile(version: string, npmVersion: string): string {
  return `FROM scratch
ADD rootfs.tar /
${upgradeInstructions(today())}ADD node.tar /usr/local/
ENV NODE_VERSION=${version} NPM_VERSION=${npmVersion}
LABEL org.opencontainers.image.description="Offline stand-in for node:${version}-bookworm-slim (Debian bookworm + node-linux-* from npm), built by ci/images/index.ts"
CMD ["node"]
`;
}

/** prom/prometheus' user, paths, entrypoint and command, on Debian's prometheus (upgraded like the node images). */
const prometheusDockerfile = () => `FROM scratch
ADD rootfs.tar /
${upgradeInstructions(today())}LABEL org.opencontainers.image.description="Offline stand-in for prom/prometheus (Debian bookworm's prometheus), built by ci/images/index.ts"
USER nobody
EXPOSE 9090
VOLUME ["/prometheus"]
WORKDIR /prometheus
ENTRYPOINT ["/bin/prometheus"]
CMD ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.console.libraries=/usr/share/prometheus/console_libraries", "--web.console.templates=/usr/share/prometheus/consoles"]
`;

/** prom/alertmanager's user, paths, entrypoint and command, on Debian's prometheus-alertmanager (upgraded likewise). */
const alertmanagerDockerfile = () => `FROM scratch
ADD rootfs.tar /
${upgradeInstructions(today())}LABEL org.opencontainers.image.description="Offline stand-in for prom/alertmanager (Debian bookworm's prometheus-alertmanager), built by ci/images/index.ts"
USER nobody
EXPOSE 9093
VOLUME ["/alertmanager"]
WORKDIR /alertmanager
ENTRYPOINT ["/bin/alertmanager"]
CMD ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager"]
`;

/**
 * docker:dind's entrypoint, as far as the pipeline uses it: with DOCKER_TLS_CERTDIR empty, dockerd on the unix
 * socket and on tcp 2375 without TLS; arguments that start with "-" go to dockerd, others run as a command.
 */
const DIND_ENTRYPOINT = `#!/bin/sh
set -e
if [ "$#" -eq 0 ] || [ "\${1#-}" != "$1" ]; then
  set -- dockerd --host=unix:///var/run/docker.sock --host=tcp://0.0.0.0:2375 --tls=false "$@"
fi
# Pid files left on the data volume by a daemon that was killed would stop the next one from starting.
rm -f /var/run/docker.pid /var/run/docker/containerd/containerd.pid
exec "$@"
`;

/** docker:<v>-dind's entrypoint, ports and volume on Debian's docker.io; the label names the real version. */
const dindDockerfile = (ref: string, version: string) => `FROM scratch
ADD rootfs.tar /
${upgradeInstructions(today())}COPY dockerd-entrypoint.sh /usr/local/bin/dockerd-entrypoint.sh
LABEL org.opencontainers.image.description="Offline stand-in for ${ref} (Debian bookworm's docker.io), built by ci/images/index.ts" \\
      org.opencontainers.image.version="${version}"
ENV DOCKER_TLS_CERTDIR=""
VOLUME ["/var/lib/docker"]
EXPOSE 2375
ENTRYPOINT ["/bin/sh", "/usr/local/bin/dockerd-entrypoint.sh"]
CMD []
`;

/** Makes every offline image in `opts` that is missing (or all of them with `force`); throws naming each failed image and step. */
export async function offlineImages(opts: OfflineImagesOptions): Promise<void> {
  // Children's output is kept for error messages, not streamed; `within` keeps the setting local.
  return within(() => {
    $.quiet = true;
    $.verbose = false;
    return build(opts);
  });
}

/** The body of offlineImages, run inside its quiet zx context. */
async function build(opts: OfflineImagesOptions): Promise<void> {
  const cacheDir = path.resolve(opts.cacheDir ?? path.join(ROOT, ".cache/images"));
  const log = opts.log;
  const started = Date.now();

  await fs.ensureDir(cacheDir);
  const release = await acquireLock(cacheDir, log);
  try {
    await buildLocked(opts, cacheDir, started);
  } finally {
    await release();
  }
}

/** Builds the images while holding the cache lock. */
async function buildLocked(
  opts: OfflineImagesOptions,
  cacheDir: string,
  started: number,
): Promise<void> {
  const workDir = path.join(cacheDir, "tmp");
  const log = opts.log;
  // Leftovers of an interrupted run: temporary tarballs and build contexts.
  for (const f of await fs.readdir(cacheDir))
    if (f.includes(".tmp-")) await fs.rm(path.join(cacheDir, f), { recursive: true, force: true });
  await fs.rm(workDir, { recursive: true, force: true });
  await removeTempTags(opts.dockerBin);

  // Each image's row hears of the phase it is in (a step starts).
  const phases = new Map<string, RowHooks["step"]>();
  const step = <T>(image: string, name: string, fn: () => Promise<T>): Promise<T> => {
    phases.get(image)?.(name);
    return namedStep(image, name, fn);
  };
  const once = memo<string>();
  const rootfsFor = (spec: RootfsSpec, arch: DebArch) =>
    once(`rootfs:${spec.name}:${arch}`, () => rootfs(cacheDir, spec, arch, log));
  const emulated = memo<string>();
  const buildArches = [...new Set(opts.platforms.map(debArch))];

  /** The node image of one major for one platform, under its final tags. */
  const nodeTarget = (major: string, platform: string, tags: string[]): Target => {
    const ref = tags[0] ?? "";
    const arch = debArch(platform);
    return {
      ref,
      tags,
      platform,
      build: async () => {
        const arches = opts.platforms.includes(platform) ? buildArches : [arch];
        const version = await step(ref, `resolve Node ${major} on npm`, () =>
          once(`node:${major}:${arches}`, () => resolveNode(major, arches)),
        );
        const npmVersion = await step(ref, `resolve npm for Node ${version}`, () =>
          once(`npm:${version}`, () => resolveNpm(version)),
        );
        if (platform !== NATIVE)
          await step(ref, `enable ${arch} emulation (binfmt_misc)`, () =>
            emulated(arch, () => enableEmulation(platform, log)),
          );
        const [base, node] = await all<[string, string]>([
          step(ref, `mmdebstrap rootfs (${arch})`, () => rootfsFor(nodeRootfs, arch)),
          step(ref, `fetch Node ${version} + npm ${npmVersion} (${arch})`, () =>
            once(`layer:${version}:${arch}`, () => nodeLayer(cacheDir, version, npmVersion, arch)),
          ),
        ]);
        await step(ref, `docker build (${platform})`, () =>
          buildImage({
            docker: opts.dockerBin,
            workDir,
            dockerfile: nodeDockerfile(version, npmVersion),
            standIn: `Node ${version} and npm ${npmVersion} from npm, on Debian bookworm`,
            files: { "rootfs.tar": base, "node.tar": node },
            platform,
            tags,
          }),
        );
        log(`${tags.join(", ")}: Node ${version}, npm ${npmVersion} (${platform})`);
      },
    };
  };

  /** A Prometheus or Alertmanager image from Debian's package, checked against the version in its tag. */
  const toolTarget = (ref: string, spec: RootfsSpec, dockerfile: string): Target => ({
    ref,
    tags: [ref],
    platform: NATIVE,
    build: async () => {
      const arch = debArch(NATIVE);
      const tar = await step(ref, `mmdebstrap rootfs (${spec.name}, ${arch})`, () =>
        rootfsFor(spec, arch),
      );
      await step(ref, "check Debian's version against the tag", async () => {
        const debian = await rootfsPackageVersion(tar);
        if (!debian.startsWith(`${tagVersion(ref)}+`) && !debian.startsWith(`${tagVersion(ref)}-`))
          throw new Error(
            `Debian bookworm has ${spec.versionOf} ${debian}, not ${tagVersion(ref)}; set the config's image to the matching tag`,
          );
      });
      const debianVersion = await rootfsPackageVersion(tar);
      await step(ref, `docker build (${NATIVE})`, () =>
        buildImage({
          docker: opts.dockerBin,
          workDir,
          dockerfile,
          files: { "rootfs.tar": tar },
          platform: NATIVE,
          tags: [ref],
          standIn: `Debian ${spec.versionOf} ${debianVersion}`,
        }),
      );
      log(`${ref}: Debian ${spec.versionOf} ${await rootfsPackageVersion(tar)}`);
    },
  });

  /** The docker:dind stand-in: a Docker daemon from Debian's docker.io, whatever version the tag names. */
  const dindTarget = (ref: string): Target => ({
    ref,
    tags: [ref],
    platform: NATIVE,
    build: async () => {
      const arch = debArch(NATIVE);
      const tar = await step(ref, `mmdebstrap rootfs (dind, ${arch})`, () =>
        rootfsFor(dindRootfs, arch),
      );
      const version = await rootfsPackageVersion(tar);
      const entrypoint = path.join(cacheDir, "dockerd-entrypoint.sh");
      await fs.writeFile(entrypoint, DIND_ENTRYPOINT, { mode: 0o755 });
      await step(ref, `docker build (${NATIVE})`, () =>
        buildImage({
          docker: opts.dockerBin,
          workDir,
          dockerfile: dindDockerfile(ref, version),
          files: { "rootfs.tar": tar, "dockerd-entrypoint.sh": entrypoint },
          platform: NATIVE,
          tags: [ref],
          standIn: `Debian docker.io ${version}`,
        }),
      );
      log(`${ref}: Debian docker.io ${version} (a stand-in: the tag names the image it replaces)`);
    },
  });

  const nodeRef = (v: string) => opts.refs.node.replaceAll("{version}", v);
  const targets: Target[] = [
    ...opts.nodeVersions
      .filter((v) => v !== opts.buildNodeVersion || !opts.platforms.includes(NATIVE))
      .map((v) => nodeTarget(v, NATIVE, [nodeRef(v)])),
    // The Dockerfile's base: every platform gets its own alias; the native one also takes the plain name.
    ...opts.platforms.map((p) =>
      nodeTarget(
        opts.buildNodeVersion,
        p,
        p === NATIVE
          ? [nodeRef(opts.buildNodeVersion), platformRef(nodeRef(opts.buildNodeVersion), p)]
          : [platformRef(nodeRef(opts.buildNodeVersion), p)],
      ),
    ),
    toolTarget(opts.refs.prometheus, prometheusRootfs, prometheusDockerfile()),
    toolTarget(opts.refs.alertmanager, alertmanagerRootfs, alertmanagerDockerfile()),
    dindTarget(opts.refs.dind),
  ];

  const rows = opts.rows ?? localRows(() => log);
  const results = await Promise.all(
    targets.map((t) =>
      rows(t.ref, async (row) => {
        if (!opts.force && (await allPresent(opts.dockerBin, t.tags, t.platform))) {
          row.step("present", true);
          row.log(`${t.tags.join(", ")}: present (${t.platform}), kept`);
          return;
        }
        phases.set(t.ref, row.step);
        const t0 = Date.now();
        await t.build();
        row.log(`${t.ref}: built in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
      }),
    ),
  );
  await fs.rm(workDir, { recursive: true, force: true });
  const failed = results.flatMap((r) => (r.error === undefined ? [] : [r.error as Error]));
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) throw new ImagesFailedError(failed);
  log(`${targets.length} images ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
