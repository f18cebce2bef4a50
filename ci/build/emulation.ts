/** Can this host build a platform? Native platforms always; others need a binfmt_misc emulator. */
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
export function nativePlatform(): string {
  return `linux/${DOCKER_ARCH[process.arch] ?? process.arch}`;
}

/** "linux/arm64/v8" → "arm64". */
export function archOf(platform: string): string {
  return platform.split("/")[1] ?? platform;
}

/** What to tell a user whose host cannot run `platform`. */
export function emulationHint(platform: string): string {
  const arch = archOf(platform);
  const qemu = QEMU[arch] ?? arch;
  return (
    `cannot build ${platform}: this host has no emulation for ${arch} (no enabled binfmt_misc handler qemu-${qemu}). ` +
    `Install it: apt-get install qemu-user-static binfmt-support, then mount binfmt_misc and run update-binfmts --enable qemu-${qemu} ` +
    `(or docker run --privileged --rm tonistiigi/binfmt --install ${arch}); or leave it out with --platform ${nativePlatform()}.`
  );
}

/**
 * Whether the kernel can run `platform`'s binaries: native, or an enabled qemu binfmt handler.
 * `undefined` when binfmt_misc is not visible here (not mounted, or inside a container talking to the
 * host's daemon): then only the build can tell, and its "exec format error" gets the same hint.
 */
export function canRun(
  platform: string,
  binfmtDir = "/proc/sys/fs/binfmt_misc",
): boolean | undefined {
  if (platform === nativePlatform()) return true;
  const qemu = QEMU[archOf(platform)];
  if (!qemu) return false;
  if (!existsSync(`${binfmtDir}/status`)) return undefined;
  try {
    return readFileSync(`${binfmtDir}/qemu-${qemu}`, "utf8").split("\n")[0]?.trim() === "enabled";
  } catch {
    return false;
  }
}

/** True when a build log shows the emulator was missing. */
export function looksLikeNoEmulation(output: string): boolean {
  return /exec format error|no match for platform in manifest/i.test(output);
}
