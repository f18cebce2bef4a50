/** Platforms: the host's, their arch names in Node, Docker and Debian, and whether the kernel can run them. */
import { existsSync, readFileSync } from "node:fs";

/** Node's arch names → Docker's. */
const DOCKER_ARCH: Record<string, string> = {
  x64: "amd64",
  arm64: "arm64",
  arm: "arm",
  ppc64: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
};
/** Docker arch → the qemu binfmt handler name. */
const QEMU: Record<string, string> = {
  amd64: "x86_64",
  arm64: "aarch64",
  arm: "arm",
  ppc64le: "ppc64le",
  s390x: "s390x",
  riscv64: "riscv64",
};

/** The host's platform, e.g. "linux/amd64". */
export function nativePlatform(nodeArch: string = process.arch): string {
  return `linux/${DOCKER_ARCH[nodeArch] ?? nodeArch}`;
}

/** "linux/arm64/v8" → "arm64". */
export function archOf(platform: string): string {
  return platform.split("/")[1] ?? platform;
}

/** The qemu binfmt handler that runs `platform`'s binaries, e.g. "qemu-aarch64". */
export function qemuHandler(platform: string): string | undefined {
  const q = QEMU[archOf(platform)];
  return q ? `qemu-${q}` : undefined;
}

/**
 * The per-platform alias of an image reference, e.g. `node:24-bookworm-slim-arm64`: Docker 20.10's image
 * store keeps one platform per tag, so offline stand-ins for other platforms live under these names.
 */
export function platformRef(ref: string, platform: string): string {
  const arch = archOf(platform);
  const lastPart = ref.slice(ref.lastIndexOf("/") + 1);
  return lastPart.includes(":") ? `${ref}-${arch}` : `${ref}:latest-${arch}`;
}

/** What to tell a user whose host cannot run `platform`. */
export function emulationHint(platform: string): string {
  const arch = archOf(platform);
  const qemu = qemuHandler(platform) ?? `qemu-${arch}`;
  return (
    `cannot build ${platform}: this host has no emulation for ${arch} (no enabled binfmt_misc handler ${qemu}). ` +
    `Install it: apt-get install qemu-user-static binfmt-support, then mount binfmt_misc and run update-binfmts --enable ${qemu} ` +
    `(or docker run --privileged --rm tonistiigi/binfmt --install ${arch}); or leave it out with --platform ${nativePlatform()}.`
  );
}

/**
 * Whether the kernel can run `platform`'s binaries: native, or an enabled qemu binfmt handler.
 * `undefined` when binfmt_misc is not visible here (not mounted, or inside a container talking to another
 * daemon): then only the build can tell, and its "exec format error" gets the same hint.
 */
export function canRun(
  platform: string,
  binfmtDir = "/proc/sys/fs/binfmt_misc",
): boolean | undefined {
  if (platform === nativePlatform()) return true;
  const handler = qemuHandler(platform);
  if (!handler) return false;
  if (!existsSync(`${binfmtDir}/status`)) return undefined;
  try {
    return readFileSync(`${binfmtDir}/${handler}`, "utf8").split("\n")[0]?.trim() === "enabled";
  } catch {
    return false;
  }
}

/** True when a build log shows the emulator was missing. */
export function looksLikeNoEmulation(output: string): boolean {
  return /exec format error|no match for platform in manifest/i.test(output);
}
