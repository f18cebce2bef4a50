/** The offline image builder against the real daemon: a second run reuses everything, failures name image and step and leave no tag. */
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { $ } from "zx";
import { loadConfig } from "../../../../ci/config.js";
import { ImageStepError, offlineImages } from "../../../../ci/images/index.js";
import { platformRef } from "../../../../ci/lib/platform.js";
import { dockerTest } from "../../../helpers/docker.js";

const test = suite("offline images");
const DOCKER = "/usr/bin/docker";
const CACHE = join(process.cwd(), ".cache/images");
const NATIVE = process.arch === "arm64" ? "linux/arm64" : "linux/amd64";
const unique = `codex-i3-it-${process.pid}`;

/** The image ID of a ref, or "" when absent. */
async function idOf(ref: string): Promise<string> {
  const r = await $({
    quiet: true,
    nothrow: true,
  })`${DOCKER} image inspect --format ${"{{.Id}}"} ${ref}`;
  return r.exitCode === 0 ? r.stdout.trim() : "";
}

/** Temporary tags the builder may have left behind (it must leave none). */
async function tempTags(): Promise<string[]> {
  const r = await $({
    quiet: true,
  })`${DOCKER} images --format ${"{{.Repository}}:{{.Tag}}"} codex-offline-tmp`;
  return r.stdout.split("\n").filter(Boolean);
}

test("platformRef gives each platform its own tag", () => {
  assert.is(platformRef("node:24-bookworm-slim", "linux/arm64"), "node:24-bookworm-slim-arm64");
  assert.is(platformRef("registry:5000/node", "linux/amd64"), "registry:5000/node:latest-amd64");
});

dockerTest(
  test,
  "a second run with nothing changed keeps every image and does no work",
  async () => {
    const config = await loadConfig();
    const opts = {
      refs: config.images,
      nodeVersions: config.node,
      buildNodeVersion: config.image.nodeVersion,
      platforms: config.platforms,
      force: false,
      dockerBin: DOCKER,
    };
    // The first run builds whatever is missing (on CI, .ci/run has built them already).
    await offlineImages({ ...opts, log: () => {} });
    const refs = [
      ...config.node.map((v) => config.images.node.replace("{version}", v)),
      ...config.platforms.map((p) =>
        platformRef(config.images.node.replace("{version}", config.image.nodeVersion), p),
      ),
      config.images.prometheus,
      config.images.alertmanager,
      config.images.dind,
    ];
    const before = await Promise.all(refs.map(idOf));
    assert.ok(before.every(Boolean), "all images present after the first run");
    const lines: string[] = [];
    await offlineImages({ ...opts, log: (l) => lines.push(l) });
    assert.equal(await Promise.all(refs.map(idOf)), before, "no image was rebuilt");
    assert.ok(lines.filter((l) => l.includes("kept")).length >= 5, lines.join("\n"));
    assert.not.ok(
      lines.some((l) => /built in|mmdebstrap/.test(l)),
      lines.join("\n"),
    );
  },
);

dockerTest(test, "every node stand-in runs its Node and npm, on its own platform", async () => {
  const config = await loadConfig();
  const image = (v: string) => config.images.node.replace("{version}", v);
  const cells = [
    ...config.node.map((v) => ({ ref: image(v), platform: NATIVE })),
    ...config.platforms.map((p) => ({
      ref: platformRef(image(config.image.nodeVersion), p),
      platform: p,
    })),
  ];
  for (const { ref, platform } of cells) {
    const env = await $({
      quiet: true,
    })`${DOCKER} image inspect --format ${"{{json .Config.Env}}"} ${ref}`;
    const vars = Object.fromEntries(
      (JSON.parse(env.stdout) as string[]).map((e) => e.split("=") as [string, string]),
    );
    // Shared libraries Node needs beyond minbase (libatomic1 from Node 26 on) show up here.
    const r = await $({
      quiet: true,
      nothrow: true,
    })`${DOCKER} run --rm --platform ${platform} ${ref} sh -c ${"node --version && npm --version"}`;
    assert.is(r.exitCode, 0, `${ref} (${platform}): ${r.stderr.trim()}`);
    assert.equal(r.stdout.trim().split("\n"), [`v${vars.NODE_VERSION}`, vars.NPM_VERSION], ref);
  }
});

dockerTest(
  test,
  "an unknown Node version fails naming the image and the step, and tags nothing",
  async () => {
    const ref = `${unique}/node:{version}-bookworm-slim`;
    try {
      await offlineImages({
        refs: {
          node: ref,
          prometheus: "prom/prometheus:v2.42.0",
          alertmanager: "prom/alertmanager:v0.25.0",
          dind: "docker:28-dind",
        },
        nodeVersions: ["1"],
        buildNodeVersion: "1",
        platforms: [NATIVE],
        force: false,
        dockerBin: DOCKER,
        log: () => {},
      });
      assert.unreachable("should have failed");
    } catch (e) {
      assert.instance(e, ImageStepError);
      const err = e as ImageStepError;
      assert.is(err.image, `${unique}/node:1-bookworm-slim`);
      assert.match(err.step, "resolve Node 1 on npm");
      assert.match(
        err.message,
        /offline image .*node:1-bookworm-slim: step "resolve Node 1 on npm" failed/,
      );
    }
    assert.is(await idOf(`${unique}/node:1-bookworm-slim`), "");
    assert.equal(await tempTags(), []);
    assert.equal(
      readdirSync(CACHE).filter((f) => f.includes(".tmp-")),
      [],
    );
  },
);

dockerTest(
  test,
  "a tag that Debian's package does not match fails at the version check and tags nothing",
  async () => {
    const ref = `${unique}/prometheus:v9.9.9`;
    try {
      await offlineImages({
        refs: {
          node: "node:{version}-bookworm-slim",
          prometheus: ref,
          alertmanager: "prom/alertmanager:v0.25.0",
          dind: "docker:28-dind",
        },
        nodeVersions: [],
        buildNodeVersion: "24",
        platforms: [NATIVE],
        force: false,
        dockerBin: DOCKER,
        log: () => {},
      });
      assert.unreachable("should have failed");
    } catch (e) {
      assert.instance(e, ImageStepError);
      assert.is((e as ImageStepError).image, ref);
      assert.is((e as ImageStepError).step, "check Debian's version against the tag");
      assert.match((e as Error).message, /Debian bookworm has prometheus 2\.42\.0.*not 9\.9\.9/);
    }
    assert.is(await idOf(ref), "");
    assert.equal(await tempTags(), []);
  },
);

test.run();
