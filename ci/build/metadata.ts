/**
 * What an image build is labelled and tagged with: the OCI label build args (revision from git,
 * version from package.json, created) and the tags named in config (version, sha-<short>, branch).
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TagKind } from "../config.js";

const run = promisify(execFile);

/** Facts about the source being built. */
export interface SourceFacts {
  version: string;
  /** Full commit SHA. */
  revision: string;
  /** Current branch, undefined when detached. */
  branch?: string;
  /** RFC 3339. */
  created: string;
  /** Repository URL for org.opencontainers.image.source, when known. */
  source?: string;
}

/** Reads version, revision, branch and created time under `root`. */
export async function sourceFacts(
  root: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<SourceFacts> {
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    version?: string;
  };
  if (!pkg.version)
    throw new Error("package.json: no version; the image's version tag and label need it");
  const git = async (...args: string[]) =>
    (await run("git", ["-C", root, ...args]).catch(() => ({ stdout: "" }))).stdout.trim();
  const revision = env.GITHUB_SHA || (await git("rev-parse", "HEAD"));
  if (!/^[0-9a-f]{40}$/.test(revision))
    throw new Error(
      `build: cannot read the git revision in ${root} (is it a git checkout with a commit?)`,
    );
  // GitHub checks out a detached HEAD: its branch is GITHUB_HEAD_REF (pull requests) or GITHUB_REF_NAME.
  const ref =
    env.GITHUB_HEAD_REF ||
    (env.GITHUB_REF_TYPE === "branch" ? env.GITHUB_REF_NAME : "") ||
    (await git("rev-parse", "--abbrev-ref", "HEAD"));
  const created = await createdAt(root, env, git);
  const origin = env.GITHUB_REPOSITORY
    ? `https://github.com/${env.GITHUB_REPOSITORY}`
    : await git("remote", "get-url", "origin");
  return {
    version: pkg.version,
    revision,
    ...(ref && ref !== "HEAD" ? { branch: ref } : {}),
    created,
    ...(origin ? { source: origin } : {}),
  };
}

/**
 * The created time: SOURCE_DATE_EPOCH when set, else the commit time. Not "now": an unchanged
 * rebuild then gets identical build args and reuses every cached layer, and the image is reproducible.
 */
async function createdAt(
  root: string,
  env: NodeJS.ProcessEnv,
  git: (...a: string[]) => Promise<string>,
): Promise<string> {
  if (env.SOURCE_DATE_EPOCH) {
    const s = Number(env.SOURCE_DATE_EPOCH);
    if (!Number.isInteger(s) || s < 0)
      throw new Error(
        `SOURCE_DATE_EPOCH: "${env.SOURCE_DATE_EPOCH}" is not a Unix time in seconds`,
      );
    return new Date(s * 1000).toISOString().replace(/\.000Z$/, "Z");
  }
  const t = await git("log", "-1", "--format=%ct");
  if (!t) throw new Error(`build: no commit in ${root} to date the image (set SOURCE_DATE_EPOCH)`);
  return new Date(Number(t) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/** A string as a Docker tag: [A-Za-z0-9_.-], not starting with . or -, at most 128 characters. */
export function tagSafe(s: string): string {
  return s
    .replace(/[^A-Za-z0-9_.-]+/g, "-")
    .replace(/^[.-]+/, "")
    .slice(0, 128);
}

/** The tags of the config's tag kinds, in order, without duplicates; a detached HEAD has no branch tag. */
export function imageTags(kinds: TagKind[], facts: SourceFacts): string[] {
  const tags = kinds.flatMap((k) => {
    if (k === "version") return [tagSafe(facts.version)];
    if (k === "sha") return [`sha-${facts.revision.slice(0, 7)}`];
    return facts.branch ? [tagSafe(facts.branch)] : [];
  });
  return [...new Set(tags.filter(Boolean))];
}

/** The Dockerfile's OCI label build args. */
export function labelArgs(facts: SourceFacts): Record<string, string> {
  return {
    OCI_VERSION: facts.version,
    OCI_REVISION: facts.revision,
    OCI_CREATED: facts.created,
    ...(facts.source ? { OCI_SOURCE: facts.source } : {}),
  };
}
