/**
 * The Docker engine's step cache, as Dagger caches identical execs: after each passing step the container is
 * committed as `codex-ci-snapshot:<key>`, the key chaining everything the step depends on. A rerun starts from
 * the last snapshot whose key still matches.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { RunSpec, Step } from "../../engine.js";
import { start } from "../../lib/process.js";
import { type DockerCli, slug } from "./cli.js";

/** Step snapshots: `codex-ci-snapshot:<key>`, labelled with the run name they belong to. */
export const SNAPSHOT_REPO = "codex-ci-snapshot";
export const SNAPSHOT_LABEL = "codex-ci.snapshot";

const sha256 = (...parts: (string | Buffer)[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
};

/** Content digest of a source tree: a deterministic tar (names sorted, times and owners zeroed) hashed. */
export async function sourceDigest(from: string, exclude: string[]): Promise<string> {
  const h = createHash("sha256");
  const tar = start([
    "tar",
    "-C",
    from,
    ...exclude.map((e) => `--exclude=${e}`),
    "--sort=name",
    "--mtime=@0",
    "--owner=0",
    "--group=0",
    "--numeric-owner",
    "-cf",
    "-",
    ".",
  ]);
  tar.stdout.on("data", (d: Buffer) => h.update(d));
  const r = await tar;
  if (r.exitCode !== 0)
    throw new Error(`tar of ${from} failed (${r.exitCode}): ${r.stderr.trim()}`);
  return h.digest("hex");
}

/**
 * The key of a run's starting point without its source, or undefined when it must not be cached: secret env
 * would be committed into images.
 */
async function baseKey(docker: DockerCli, spec: RunSpec): Promise<string | undefined> {
  if (!spec.reuse || spec.secretEnv) return undefined;
  const fileDigest = (f: string) => sha256(readFileSync(resolve(f)));
  return sha256(
    await docker.must(["image", "inspect", "--format", "{{.Id}}", spec.image]),
    JSON.stringify({
      v: 2,
      platform: spec.platform,
      user: spec.user,
      workdir: spec.workdir,
      env: spec.env,
      caches: spec.caches,
      files: spec.files?.map((f) => [f.to, fileDigest(f.from)]),
      services: spec.services,
    }),
  );
}

/**
 * Each step's snapshot tag: everything before it, the source's content entering after the setup steps. With
 * services only the setup steps are cached: what follows talks to them, so it depends on more than its inputs.
 */
export async function snapshotTags(
  docker: DockerCli,
  spec: RunSpec,
  all: Step[],
  setupCount: number,
): Promise<string[]> {
  const base = await baseKey(docker, spec);
  if (!base) return [];
  const source = async () => {
    if (!spec.source) return "no source";
    const { from = ".", to, exclude = [] } = spec.source;
    return JSON.stringify([to, exclude, await sourceDigest(from, exclude)]);
  };
  const tags: string[] = [];
  let prev = base;
  const cacheable = spec.services?.length ? all.slice(0, setupCount) : all;
  for (const [i, step] of cacheable.entries()) {
    if (i === setupCount) prev = sha256(prev, await source());
    prev = sha256(prev, JSON.stringify([step.args, step.env]));
    tags.push(`${SNAPSHOT_REPO}:${prev.slice(0, 40)}`);
  }
  return tags;
}

/** How many leading steps have a snapshot (the rerun starts from the last of them). */
export async function cachedPrefix(docker: DockerCli, tags: string[]): Promise<number> {
  for (let i = tags.length - 1; i >= 0; i--) {
    const r = await docker.try(["image", "inspect", "--format", "{{.Id}}", tags[i] as string]);
    if (r.exitCode === 0) return i + 1;
  }
  return 0;
}

/** Snapshots a container after a passing step (bind mounts and cache volumes are not part of it). */
export async function commit(docker: DockerCli, name: string, runName: string, tag: string) {
  await docker.must(["commit", "--change", `LABEL ${SNAPSHOT_LABEL}=${slug(runName)}`, name, tag]);
}

/** Keeps one chain of snapshots per run name (the latest), so disk use stays bounded. */
export async function pruneSnapshots(docker: DockerCli, runName: string, keep: string[]) {
  const r = await docker.try([
    "images",
    "--filter",
    `label=${SNAPSHOT_LABEL}=${slug(runName)}`,
    "--format",
    "{{.Repository}}:{{.Tag}}",
  ]);
  const stale = r.stdout
    .split("\n")
    .filter((t) => t.startsWith(`${SNAPSHOT_REPO}:`) && !keep.includes(t));
  if (stale.length) await docker.try(["rmi", ...stale]);
}
