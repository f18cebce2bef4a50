/**
 * `reports/build.json`: what the build stage produced, read by scan (tarballs) and deploy (tag).
 * A file rather than memory, so `scan` or `deploy` can run in a later invocation.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** One built platform. */
export interface BuiltPlatform {
  platform: string;
  /** Repo-relative image tarball (docker-archive or OCI), when written. */
  tarball?: string;
}

/** The build's record. */
export interface BuildManifest {
  /** Image name, e.g. "codex-father". */
  image: string;
  tags: string[];
  /** The tag deploy uses: sha-<short> (unique per commit, so rollbacks are meaningful). */
  deployTag: string;
  platforms: BuiltPlatform[];
  /** The platform loaded into the host's Docker under every tag, if any. */
  loaded?: string;
  /** Repo-relative multi-platform OCI tarball (Dagger engine), when written. */
  multiPlatformTarball?: string;
  /** Pushed references with digests. */
  published: string[];
  revision: string;
  version: string;
  created: string;
}

/** Where it lives under the repo root. */
export function manifestPath(root: string): string {
  return join(root, "reports", "build.json");
}

/** Writes it atomically. */
export async function writeManifest(root: string, m: BuildManifest): Promise<void> {
  const file = manifestPath(root);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.tmp`, `${JSON.stringify(m, null, 2)}\n`);
  await rename(`${file}.tmp`, file);
}

/** Reads it, or says to run build first. */
export async function readManifest(root: string, stage: string): Promise<BuildManifest> {
  try {
    return JSON.parse(await readFile(manifestPath(root), "utf8")) as BuildManifest;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT")
      throw new Error(
        `${stage}: reports/build.json is missing; run the build stage first (npx tsx ci/main.ts build)`,
      );
    throw new Error(
      `${stage}: reports/build.json is unreadable (${(e as Error).message}); run the build stage again`,
    );
  }
}
