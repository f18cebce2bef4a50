/**
 * The module's settings that must agree with the rest of the repo: dagger.json and the pinned SDK, the runner's
 * image and npm cache and ci/pipeline.yaml, and the `source` excludes and the image's build context.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { NPM_CACHE, RUNNER_IMAGE } from "../../../.dagger/src/index.js";
import { SOURCE_EXCLUDE as MODULE_IGNORE } from "../../../.dagger/src/source-exclude.js";
import { loadConfig, nodeImage } from "../../../ci/config.js";
import { sdkCliVersion } from "../../../ci/doctor/tools.js";
import { dockerignore } from "../../../ci/lib/dockerignore.js";
import { SOURCE_EXCLUDE } from "../../../ci/lib/node-env.js";

/** Whether a gitignore-style name pattern (no slash; `*` within a name) drops `path` or a directory above it. */
const drops = (pattern: string, path: string): boolean => {
  const re = new RegExp(
    `^${pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replaceAll("*", "[^/]*")}$`,
  );
  return path.split("/").some((segment) => re.test(segment));
};

test("dagger.json: the TypeScript SDK, source in .dagger, the engine the pinned SDK speaks", async () => {
  const config = JSON.parse(readFileSync("dagger.json", "utf8"));
  assert.equal(config, {
    name: "codex-father",
    engineVersion: `v${await sdkCliVersion()}`,
    sdk: { source: "typescript" },
    source: ".dagger",
  });
});

test("the runner starts from the image's Node and shares npm's cache volume with the pipeline's steps", async () => {
  const config = await loadConfig();
  assert.is(RUNNER_IMAGE, nodeImage(config, config.image.nodeVersion));
  assert.is(NPM_CACHE, config.cache.npm);
});

test("one exclude list: the module's `source` ignores exactly what ci/ leaves out of every copy", () => {
  assert.is(MODULE_IGNORE, SOURCE_EXCLUDE, "the same array, not a copy");
  for (const p of MODULE_IGNORE)
    assert.not.ok(p.includes("/"), `${p}: a name, matched at any depth`);
});

test("the image's build context survives the module's ignore: every file .dockerignore lets in is in `source`", () => {
  const kept = dockerignore(".")
    .filter((p) => p.startsWith("!"))
    .map((p) => p.slice(1).replace(/\/$/, ""));
  assert.ok(kept.length > 0, ".dockerignore names what the image needs");
  // The files on disk, not `git ls-files`: a pipeline cell's source has no .git.
  const context = kept
    .filter((k) => existsSync(k))
    .flatMap((k) =>
      statSync(k).isDirectory()
        ? readdirSync(k, { recursive: true, encoding: "utf8" })
            .map((f) => `${k}/${f}`)
            .filter((f) => statSync(f).isFile())
        : [k],
    );
  assert.ok(context.length > kept.length, "the kept paths hold files");
  for (const f of [...context, "docker/Dockerfile", ".dockerignore"])
    assert.not.ok(
      MODULE_IGNORE.some((p) => drops(p, f)),
      `${f} is in the build context but the module's source would not have it`,
    );
  // The check above can fail: what it guards against is caught.
  assert.ok(drops("node_modules", "scripts/node_modules/x.js") && drops("*.log", "a/b.log"));
});

test.run();
