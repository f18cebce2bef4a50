/** qemu-user-static emulation through binfmt_misc, so mmdebstrap can run a foreign arch's maintainer scripts. */
import { $, fs } from "zx";
import type { DebArch } from "./rootfs.js";

const BINFMT = "/proc/sys/fs/binfmt_misc";
const QEMU: Record<DebArch, string> = { amd64: "qemu-x86_64", arm64: "qemu-aarch64" };

/** Makes sure binfmt_misc is mounted and the qemu handler for `arch` is enabled; returns the handler name. */
export async function ensureEmulation(arch: DebArch, log: (line: string) => void): Promise<string> {
  const handler = QEMU[arch];
  if (!(await fs.pathExists(`${BINFMT}/status`))) {
    log(`binfmt_misc: mounting ${BINFMT}`);
    await $`mount -t binfmt_misc binfmt_misc ${BINFMT}`;
  }
  const entry = `${BINFMT}/${handler}`;
  const enabled = async () =>
    (await fs.pathExists(entry)) && (await fs.readFile(entry, "utf8")).startsWith("enabled");
  if (!(await enabled())) {
    log(`binfmt_misc: update-binfmts --enable ${handler}`);
    const r = await $({ nothrow: true })`update-binfmts --enable ${handler}`;
    if (r.exitCode !== 0)
      throw new Error(
        `cannot enable ${handler} (${r.stderr.trim() || `exit ${r.exitCode}`}): install qemu-user-static and binfmt-support, and run as root`,
      );
    if (!(await enabled()))
      throw new Error(`${handler} still not enabled in ${BINFMT} after update-binfmts`);
  }
  return handler;
}
