/**
 * The Docker engine's step-cache keys (snapshotTags): what must hit and what must miss. The daemon is asked
 * only for the image's ID, so a stand-in answers that; the source digest is the real tar over real files.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { RunSpec, Step } from "../../../../../ci/engine.js";
import type { DockerCli } from "../../../../../ci/engines/docker/cli.js";
import { snapshotTags } from "../../../../../ci/engines/docker/step-cache.js";

const test = suite("step cache keys");
const dirs: string[] = [];

/** A daemon whose only answer is the image's ID. */
const daemon = (imageId = "sha256:aaa") =>
  ({
    must: async (args: string[]) => {
      if (args.slice(0, 2).join(" ") !== "image inspect") throw new Error(`unexpected ${args}`);
      return imageId;
    },
  }) as unknown as DockerCli;

/** A small repo: a lockfile, a source file, an excluded node_modules. */
function repo(): string {
  const dir = mkdtempSync(join(tmpdir(), "codex-step-cache-"));
  dirs.push(dir);
  mkdirSync(join(dir, "src"));
  mkdirSync(join(dir, "node_modules", "x"), { recursive: true });
  writeFileSync(join(dir, "package-lock.json"), '{"lockfileVersion":3}\n');
  writeFileSync(join(dir, "src", "a.ts"), "export const a = 1;\n");
  writeFileSync(join(dir, "node_modules", "x", "index.js"), "1\n");
  return dir;
}

const apt = (packages: string[]): Step => ({
  name: "apt",
  args: ["sh", "-c", `apt-get install -y ${packages.join(" ")}`],
  env: { DEBIAN_FRONTEND: "noninteractive" },
});
const after: Step[] = [
  { name: "npm ci", args: ["npm", "ci"] },
  { name: "test", args: ["npm", "run", "test:unit"] },
];

function spec(from: string, over: Partial<RunSpec> = {}): RunSpec {
  return {
    name: "node22/unit",
    image: "node:22-bookworm-slim",
    reuse: true,
    env: { REQUIRE_DOCKER: "1" },
    source: { from, to: "/src", exclude: ["node_modules"] },
    steps: after,
    ...over,
  } as RunSpec;
}

/** The tags of [setup, ...after] for a spec. */
const tags = (s: RunSpec, setup: Step = apt(["git"]), d = daemon()) =>
  snapshotTags(d, s, [setup, ...after], 1);

test("an unchanged repo, touched or copied afresh, keeps every key (tar with --mtime=@0)", async () => {
  const dir = repo();
  const first = await tags(spec(dir));
  assert.is(first.length, 3);
  const later = new Date(Date.now() + 3600_000);
  utimesSync(join(dir, "src", "a.ts"), later, later);
  utimesSync(join(dir, "src"), later, later);
  assert.equal(await tags(spec(dir)), first, "touch");
  const copy = mkdtempSync(join(tmpdir(), "codex-step-cache-copy-"));
  dirs.push(copy);
  cpSync(dir, copy, { recursive: true });
  assert.equal(await tags(spec(copy)), first, "a fresh copy elsewhere");
});

test("a change inside an excluded path keeps every key; changing the exclude list misses after setup", async () => {
  const dir = repo();
  const first = await tags(spec(dir));
  writeFileSync(join(dir, "node_modules", "x", "index.js"), "2\n");
  assert.equal(await tags(spec(dir)), first, "node_modules is excluded");
  const other = await tags(spec(dir, { source: { from: dir, to: "/src", exclude: [] } }));
  assert.is(other[0], first[0], "setup runs before the source");
  assert.is.not(other[1], first[1]);
  assert.is.not(other[2], first[2]);
});

test("a lockfile change misses from npm ci on; the setup snapshot is kept", async () => {
  const dir = repo();
  const first = await tags(spec(dir));
  writeFileSync(join(dir, "package-lock.json"), '{"lockfileVersion":3,"packages":{}}\n');
  const next = await tags(spec(dir));
  assert.is(next[0], first[0]);
  assert.is.not(next[1], first[1]);
  assert.is.not(next[2], first[2]);
});

test("the apt list, a setup step's env, the image ID, the cell's env: each misses from the first step", async () => {
  const dir = repo();
  const first = await tags(spec(dir));
  const misses = {
    "apt list": await tags(spec(dir), apt(["git", "openssl"])),
    "setup env": await tags(spec(dir), { ...apt(["git"]), env: { DEBIAN_FRONTEND: "teletype" } }),
    "image id": await tags(spec(dir), apt(["git"]), daemon("sha256:bbb")),
    "cell env": await tags(spec(dir, { env: { REQUIRE_DOCKER: "0" } })),
  };
  for (const [what, t] of Object.entries(misses))
    for (let i = 0; i < 3; i++) assert.is.not(t[i], first[i], `${what}: step ${i} still hits`);
});

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
test.run();
