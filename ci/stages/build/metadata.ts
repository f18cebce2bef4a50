/**
 * What an image build is labelled and tagged with: the OCI label build args (revision from git,
 * version from package.json, created) and the tags named in config (version, sha-<short>, branch).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TagKind } from "../../config.js";
import { exec } from "../../lib/process.js";
import type { Settings } from "../../stage.js";

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
export async function sourceFacts(root: string, ci: Settings["ci"]): Promise<SourceFacts> {
  const pkg = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as {
    version?: string;
  };
  if (!pkg.version)
    throw new Error("package.json: no version; the image's version tag and label need it");
  const git = async (...args: string[]) => {
    const r = await exec(["git", "-C", root, ...args]);
    return r.exitCode === 0 ? r.stdout.trim() : "";
  };
  const revision = ci.sha || (await git("rev-parse", "HEAD"));
  if (!/^[0-9a-f]{40}$/.test(revision))
    throw new Error(
      `build: cannot read the git revision in ${root} (is it a git checkout with a commit?)`,
    );
  // GitHub checks out a detached HEAD: its branch is GITHUB_HEAD_REF (pull requests) or GITHUB_REF_NAME.
  const ref =
    ci.headRef ||
    (ci.refType === "branch" ? ci.refName : "") ||
    (await git("rev-parse", "--abbrev-ref", "HEAD"));
  const created = await createdAt(root, ci, git);
  const origin = ci.repository
    ? `${ci.serverUrl || "https://github.com"}/${ci.repository}`
    : repositoryUrl(await git("remote", "get-url", "origin"));
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
  ci: Settings["ci"],
  git: (...a: string[]) => Promise<string>,
): Promise<string> {
  if (ci.sourceDateEpoch) {
    const s = Number(ci.sourceDateEpoch);
    if (!Number.isInteger(s) || s < 0)
      throw new Error(`SOURCE_DATE_EPOCH: "${ci.sourceDateEpoch}" is not a Unix time in seconds`);
    return new Date(s * 1000).toISOString().replace(/\.000Z$/, "Z");
  }
  const t = await git("log", "-1", "--format=%ct");
  if (!t) throw new Error(`build: no commit in ${root} to date the image (set SOURCE_DATE_EPOCH)`);
  return new Date(Number(t) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/**
 * A git remote as a repository URL for the image's source label: https as is, `git@host:owner/repo` and
 * `ssh://` as https. A local path (a clone of a clone) is no URL: nothing, rather than the builder's disk.
 */
export function repositoryUrl(remote: string): string | undefined {
  const https = /^https?:\/\/(?:[^@/]+@)?([^/]+)\/(.+?)(?:\.git)?\/?$/.exec(remote);
  if (https) return `https://${https[1]}/${https[2]}`;
  const scp = /^(?:ssh:\/\/)?[\w.-]+@([\w.-]+)[:/](?:\d+\/)?(.+?)(?:\.git)?\/?$/.exec(remote);
  if (scp) return `https://${scp[1]}/${scp[2]}`;
  return undefined;
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

/** The Dockerfile's OCI label build args: what every build knows. */
export function labelArgs(facts: SourceFacts): Record<string, string> {
  return {
    OCI_VERSION: facts.version,
    OCI_REVISION: facts.revision,
    OCI_CREATED: facts.created,
  };
}

/** Labels only a build that knows its repository gets; without one they are left out, not made up. */
export function sourceLabels(facts: SourceFacts): Record<string, string> {
  return facts.source
    ? {
        "org.opencontainers.image.source": facts.source,
        "org.opencontainers.image.url": facts.source,
      }
    : {};
}
