/**
 * `reports/build.json`: what the build stage produced. Stages of the same run get it in memory; the file is
 * for a `scan` or `deploy` run in a later invocation.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeJsonAtomic } from "../../lib/files.js";

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
export const writeManifest = (root: string, m: BuildManifest): Promise<void> =>
  writeJsonAtomic(manifestPath(root), m);

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
