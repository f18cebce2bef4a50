/** PATH lookups, through zx's `which`; `path` lets the doctor probe with a PATH of its own. */
import { realpath } from "node:fs/promises";
import { which } from "zx";

/** The first executable named `bin` on `path` (default: this process's PATH), if any. */
export async function findOnPath(bin: string, path?: string): Promise<string | undefined> {
  return (
    (await which(bin, { nothrow: true, ...(path !== undefined ? { path } : {}) })) ?? undefined
  );
}

/** Every executable named `bin` on `path`, first first, each real file once (symlinks to one file count once). */
export async function findAllOnPath(bin: string, path?: string): Promise<string[]> {
  const all =
    (await which(bin, { all: true, nothrow: true, ...(path !== undefined ? { path } : {}) })) ?? [];
  const seen = new Set<string>();
  const out: string[] = [];
  for (const file of all) {
    const real = await realpath(file).catch(() => file);
    if (seen.has(real)) continue;
    seen.add(real);
    out.push(file);
  }
  return out;
}
