/** qemu-user-static emulation through binfmt_misc: mounted, and the platform's handler enabled (as root). */
import { existsSync, readFileSync } from "node:fs";
import { qemuHandler } from "./platform.js";
import { mustExec, type ProcessOptions } from "./process.js";

export const BINFMT_DIR = "/proc/sys/fs/binfmt_misc";

/** True when `handler` (e.g. "qemu-aarch64") is registered and enabled. */
export function handlerEnabled(handler: string, dir = BINFMT_DIR): boolean {
  const entry = `${dir}/${handler}`;
  return existsSync(entry) && readFileSync(entry, "utf8").startsWith("enabled");
}

/** Mounts binfmt_misc when needed and enables the qemu handler of `platform`; returns the handler's name. */
export async function enableEmulation(
  platform: string,
  log: (line: string) => void,
  opts: { dir?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<string> {
  const dir = opts.dir ?? BINFMT_DIR;
  const handler = qemuHandler(platform);
  if (!handler) throw new Error(`no qemu emulator is known for ${platform}`);
  const run = (args: string[]) => {
    log(`$ ${args.join(" ")}`);
    const o: ProcessOptions = {
      onLine: (l) => log(`  ${l}`),
      ...(opts.env ? { baseEnv: opts.env } : {}),
    };
    return mustExec(args, o);
  };
  if (!existsSync(`${dir}/status`)) await run(["mount", "-t", "binfmt_misc", "binfmt_misc", dir]);
  if (handlerEnabled(handler, dir)) return handler;
  await run(["update-binfmts", "--enable", handler]).catch((e: Error) => {
    throw new Error(
      `cannot enable ${handler} (${e.message}): install qemu-user-static and binfmt-support, and run as root`,
    );
  });
  if (!handlerEnabled(handler, dir))
    throw new Error(`${handler} still not enabled in ${dir} after update-binfmts`);
  return handler;
}
