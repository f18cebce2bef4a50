/** Debian bookworm root filesystems made with mmdebstrap, cached as tarballs under the image cache. */
import { createHash } from "node:crypto";
import { $, fs, path } from "zx";

/** Debian architecture names, as mmdebstrap and dpkg spell them. */
export type DebArch = "amd64" | "arm64";

/** What goes into one rootfs: extra packages and shell hooks run on the finished tree ("$1" is its root). */
export interface RootfsSpec {
  name: string;
  include: string[];
  hooks: string[];
  /** Extra dpkg path-excludes for this rootfs. */
  exclude?: string[];
  /** Package whose installed version is recorded beside the tarball (`<tar>.version`). */
  versionOf?: string;
}

const SUITE = "bookworm";
const SOURCES = [
  `deb http://deb.debian.org/debian ${SUITE} main`,
  `deb http://deb.debian.org/debian ${SUITE}-updates main`,
  `deb http://deb.debian.org/debian-security ${SUITE}-security main`,
];
/**
 * Dockerfile instructions that upgrade a rootfs from the security and updates suites, as of `day`. mmdebstrap
 * installs those suites' versions, but the rootfs tarball is cached by its recipe, so an image built from it
 * later would start with every fix published since. The label with the day keeps BuildKit from reusing an
 * older day's upgrade layer. Only those two suites' lists are fetched (the main suite's are 50 MB, slow under
 * qemu), and none are left in the image.
 */
export function upgradeInstructions(day: string): string {
  const list = SOURCES.filter((s) => /-(security|updates) /.test(s));
  const apt = "-o Dir::Etc::SourceList=/tmp/upgrade.list -o Dir::Etc::SourceParts=/nonexistent";
  return `LABEL org.codex-father.debian-upgraded-on="${day}"
RUN printf '%s\\n' ${list.map((l) => `'${l}'`).join(" ")} > /tmp/upgrade.list \\
 && apt-get ${apt} -o Acquire::Languages=none update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get ${apt} upgrade -y -qq \\
 && apt-get clean \\
 && rm -rf /tmp/upgrade.list /var/lib/apt/lists/* /var/log/apt/* /var/log/dpkg.log /var/cache/debconf/*-old
`;
}

// Docs, man pages and locales stripped like Debian's slim images; dpkg keeps honouring this in the image.
const DPKG_OPTS = [
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/locale/*",
  "path-exclude=/usr/share/lintian/*",
];

/** The node images' rootfs: minbase plus a `node` user (1000:1000), as in the upstream node images. */
export const nodeRootfs: RootfsSpec = {
  name: "node",
  // Node 26's binaries link libatomic.so.1; upstream's node:26-bookworm-slim installs it too.
  include: ["libatomic1"],
  hooks: [
    'chroot "$1" groupadd --gid 1000 node',
    'chroot "$1" useradd --uid 1000 --gid node --shell /bin/bash --create-home node',
  ],
};

/** The Prometheus image's rootfs: Debian's prometheus, laid out like prom/prometheus. */
export const prometheusRootfs: RootfsSpec = {
  name: "prometheus",
  include: ["prometheus", "wget", "ca-certificates"],
  versionOf: "prometheus",
  // 250 MB of unpacked time-zone JSON the console templates never load.
  exclude: ["/usr/share/javascript/moment-timezone/data/unpacked/*"],
  hooks: [
    'install -d -o 65534 -g 65534 "$1/prometheus"',
    'ln -sfn /etc/prometheus/console_libraries "$1/usr/share/prometheus/console_libraries"',
    'ln -sfn /etc/prometheus/consoles "$1/usr/share/prometheus/consoles"',
    'rm -rf "$1/var/lib/prometheus"',
  ],
};

/** The Alertmanager image's rootfs: Debian's prometheus-alertmanager, laid out like prom/alertmanager. */
export const alertmanagerRootfs: RootfsSpec = {
  name: "alertmanager",
  include: ["prometheus-alertmanager", "wget", "ca-certificates"],
  versionOf: "prometheus-alertmanager",
  hooks: [
    'install -d -o 65534 -g 65534 "$1/alertmanager"',
    // Debian calls the binary prometheus-alertmanager; upstream's entrypoint is /bin/alertmanager.
    'ln -s prometheus-alertmanager "$1/usr/bin/alertmanager"',
    'install -d "$1/etc/alertmanager"',
    'cp "$1/etc/prometheus/alertmanager.yml" "$1/etc/alertmanager/alertmanager.yml"',
  ],
};

/** A Docker daemon's rootfs for the docker:dind stand-in: Debian's docker.io (dockerd, containerd, runc, CLI). */
export const dindRootfs: RootfsSpec = {
  name: "dind",
  include: ["docker.io", "iptables", "ca-certificates", "pigz"],
  versionOf: "docker.io",
  hooks: [],
};

/** The mmdebstrap arguments for a spec and arch (without the output path); also the cache key. */
export function mmdebstrapArgs(spec: RootfsSpec, arch: DebArch): string[] {
  return [
    "--variant=minbase",
    "--format=tar",
    `--architectures=${arch}`,
    "--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr",
    '--aptopt=APT::Install-Recommends "false"',
    ...DPKG_OPTS.map((o) => `--dpkgopt=${o}`),
    ...(spec.exclude ?? []).map((p) => `--dpkgopt=path-exclude=${p}`),
    ...(spec.include.length ? [`--include=${spec.include.join(",")}`] : []),
    ...spec.hooks.map((h) => `--customize-hook=${h}`),
    // Leave no logs or caches from the bootstrap in the image.
    '--customize-hook=rm -rf "$1"/var/log/apt/* "$1"/var/log/dpkg.log "$1"/var/cache/debconf/*-old',
  ];
}

/** The cached tarball path for a spec and arch; the name changes whenever the recipe does. */
export function rootfsPath(cacheDir: string, spec: RootfsSpec, arch: DebArch): string {
  const key = createHash("sha256")
    .update(JSON.stringify([SUITE, SOURCES, mmdebstrapArgs(spec, arch)]))
    .digest("hex")
    .slice(0, 12);
  return path.join(cacheDir, `rootfs-${spec.name}-${SUITE}-${arch}-${key}.tar`);
}

/** Returns the cached rootfs tarball for spec and arch, running mmdebstrap (about 1-2 min) only when it is missing. */
export async function rootfs(
  cacheDir: string,
  spec: RootfsSpec,
  arch: DebArch,
  log: (line: string) => void,
): Promise<string> {
  const tar = rootfsPath(cacheDir, spec, arch);
  if (await fs.pathExists(tar)) return tar;
  await fs.ensureDir(cacheDir);
  // Written under a temporary name and renamed, so a crash never leaves a truncated tarball in the cache.
  const tmp = `${tar}.tmp-${process.pid}`;
  const versionHook = spec.versionOf
    ? [
        `--customize-hook=chroot "$1" dpkg-query -W -f='\${Version}' ${spec.versionOf} > ${tmp}.version`,
      ]
    : [];
  const started = Date.now();
  log(`rootfs ${spec.name}/${arch}: mmdebstrap ${SUITE} (minbase) ...`);
  try {
    await $`mmdebstrap ${mmdebstrapArgs(spec, arch)} ${versionHook} --quiet ${SUITE} ${tmp} ${SOURCES}`;
    if (spec.versionOf) await fs.rename(`${tmp}.version`, `${tar}.version`);
    await fs.rename(tmp, tar);
  } finally {
    await fs.rm(tmp, { force: true });
    await fs.rm(`${tmp}.version`, { force: true });
  }
  // Tarballs of an older recipe for the same image and arch are dead weight now.
  const stem = `rootfs-${spec.name}-${SUITE}-${arch}-`;
  for (const f of await fs.readdir(cacheDir))
    if (f.startsWith(stem) && !f.startsWith(path.basename(tar)))
      await fs.rm(path.join(cacheDir, f), { force: true });
  const mb = ((await fs.stat(tar)).size / 1e6).toFixed(0);
  log(`rootfs ${spec.name}/${arch}: ${mb} MB in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return tar;
}

/** The Debian version of the spec's `versionOf` package recorded with the tarball, e.g. `2.42.0+ds-5+deb12u1`. */
export async function rootfsPackageVersion(tar: string): Promise<string> {
  return (await fs.readFile(`${tar}.version`, "utf8")).trim();
}
