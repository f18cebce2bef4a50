/** The offline image builder against the real daemon: a second run reuses everything, failures name image and step and leave no tag. */
import { linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { $ } from "zx";
import { loadConfig } from "../../../../ci/config.js";
import { Display } from "../../../../ci/display/index.js";
import { openDocker } from "../../../../ci/engines/docker/index.js";
import { ImageStepError, offlineImages } from "../../../../ci/images/index.js";
import { nodeRootfs, rootfsPath } from "../../../../ci/images/rootfs.js";
import { localRows } from "../../../../ci/lib/cells.js";
import { platformRef } from "../../../../ci/lib/platform.js";
import type { RowRunner } from "../../../../ci/progress.js";
import { readSettings } from "../../../../ci/settings.js";
import type { StageContext } from "../../../../ci/stage.js";
import { debianSecurityScan, type ScanTarget } from "../../../../ci/stages/scan/debian/scan.js";
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
  "the stand-ins match upstream: bookworm-security and -updates in their apt sources, no security update pending",
  async () => {
    const config = await loadConfig();
    const node = (v: string) => config.images.node.replace("{version}", v);
    const sources = async (ref: string) =>
      (
        await $({
          quiet: true,
        })`${DOCKER} run --rm --user root --entrypoint apt-get ${ref} indextargets --no-release-info --format ${"$(RELEASE)"} ${"Identifier: Packages"}`
      ).stdout;
    // Each scan is one set of images the pipeline would scan together: the build base on every platform, alone the rest.
    const scans: ScanTarget[][] = [
      config.platforms.map((p) => ({
        platform: p,
        image: platformRef(node(config.image.nodeVersion), p),
      })),
      ...config.node
        .filter((v) => v !== config.image.nodeVersion)
        .map((v) => [{ platform: NATIVE, image: node(v) }]),
      [{ platform: NATIVE, image: config.images.prometheus }],
      [{ platform: NATIVE, image: config.images.alertmanager }],
    ];
    for (const t of scans.flat()) {
      const suites = await sources(t.image);
      for (const s of ["bookworm-security", "bookworm-updates"])
        assert.ok(
          suites.split("\n").includes(s),
          `${t.image}: no ${s} in its apt sources:\n${suites}`,
        );
    }
    const root = mkdtempSync(join(tmpdir(), "codex-offline-scan-"));
    const engine = await openDocker(`offline-it-${process.pid}`, {
      cache: false,
      settings: (await readSettings(process.env)).engine,
    });
    const lines: string[] = [];
    try {
      const ctx: StageContext = {
        engine,
        config,
        options: { only: [], failFast: false, push: false, down: false, volumes: false },
        settings: (await readSettings(process.env)).stages,
        root,
        runId: `offline-it-${process.pid}`,
        log: (l) => lines.push(l),
        cellLog: (c) => (l) => lines.push(`[${c}] ${l}`),
        row: localRows((c) => (l) => lines.push(`[${c}] ${l}`)),
        signal: new AbortController().signal,
      };
      const policy = { severity: [], ignoreUnfixed: true, ignore: new Set<string>() };
      for (const targets of scans) {
        const { scans: done, cells } = await debianSecurityScan(ctx, targets, policy);
        const images = targets.map((t) => `${t.image} (${t.platform})`).join(", ");
        assert.equal(
          cells.map((c) => c.status),
          targets.map(() => "passed"),
          `${images}: ${cells.map((c) => c.detail).join("; ")}\nrebuild: npx tsx ci/main.ts images --offline --force`,
        );
        for (const d of done) assert.equal(d.verdict.kept, [], images);
      }
    } finally {
      await engine.close();
      rmSync(root, { recursive: true, force: true });
    }
  },
);

dockerTest(
  test,
  "a node stand-in built from a cached rootfs that fell behind is upgraded from bookworm-security",
  async () => {
    const config = await loadConfig();
    const arch = NATIVE.split("/")[1] as "amd64" | "arm64";
    // A cache dir beside the real one (same filesystem, so its tarballs link in): the node rootfs is an
    // export of a container whose libexpat1 is bookworm's point-release version, older than bookworm-security's.
    const dir = join(process.cwd(), `.cache/offline-it-${process.pid}`);
    const old = `${unique}/old-rootfs:1`;
    const ref = `${unique}/node:{version}-bookworm-slim`;
    const built = ref.replace("{version}", config.image.nodeVersion);
    const OLD = "2.5.0-1+deb12u2";
    mkdirSync(dir, { recursive: true });
    try {
      await $({
        quiet: true,
        input: `FROM ${config.images.node.replace("{version}", config.image.nodeVersion)}
RUN apt-get update -qq && apt-get install -y -qq --allow-downgrades libexpat1=${OLD} && rm -rf /var/lib/apt/lists/*
`,
      })`${DOCKER} build -q -t ${old} -`;
      const id = (await $({ quiet: true })`${DOCKER} create ${old}`).stdout.trim();
      try {
        await $({ quiet: true })`${DOCKER} export -o ${rootfsPath(dir, nodeRootfs, arch)} ${id}`;
      } finally {
        await $({ quiet: true, nothrow: true })`${DOCKER} rm ${id}`;
      }
      for (const f of readdirSync(CACHE).filter((f) => /^node-.*\.tar$|\.tgz$/.test(f)))
        linkSync(join(CACHE, f), join(dir, f));
      // Prometheus and Alertmanager are present and kept; only the node image is built, from the old rootfs.
      await offlineImages({
        refs: { ...config.images, node: ref },
        nodeVersions: [],
        buildNodeVersion: config.image.nodeVersion,
        platforms: [NATIVE],
        force: false,
        dockerBin: DOCKER,
        log: () => {},
        cacheDir: dir,
      });
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format
      const format = "${Version}";
      const version = (
        await $({
          quiet: true,
        })`${DOCKER} run --rm --entrypoint dpkg-query ${built} -W -f ${format} libexpat1`
      ).stdout;
      const newer = await $({
        quiet: true,
        nothrow: true,
      })`${DOCKER} run --rm --entrypoint dpkg ${built} --compare-versions ${version} gt ${OLD}`;
      assert.is(newer.exitCode, 0, `libexpat1 ${version} was not upgraded from bookworm-security`);
    } finally {
      await $({
        quiet: true,
        nothrow: true,
      })`${DOCKER} rmi ${built} ${platformRef(built, NATIVE)} ${old}`;
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

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
  "a tag that Debian's package does not match fails at the version check and tags nothing; its row shows each phase",
  async () => {
    const ref = `${unique}/prometheus:v9.9.9`;
    // The rows of `images --offline` on a display: the phases each row hears, and the board's last frame.
    const display = new Display({ mode: "plain", out: { write: () => true, columns: 200 } });
    const group = display.group("images");
    group.start();
    const phases: string[] = [];
    const rows: RowRunner = (name, fn, o) =>
      group.row(
        name,
        (row) =>
          fn({
            ...row,
            step: (s, cached) => {
              if (name === ref) phases.push(s);
              row.step(s, cached);
            },
          }),
        o,
      );
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
        rows,
      });
      assert.unreachable("should have failed");
    } catch (e) {
      assert.instance(e, ImageStepError);
      assert.equal(phases, [
        `mmdebstrap rootfs (prometheus, ${NATIVE.split("/")[1]})`,
        "check Debian's version against the tag",
      ]);
      const frame = display.frame();
      const esc = (t: string) => t.replace(/[.*+?^$()|[\]\\/]/g, "\\$&");
      assert.match(
        frame,
        new RegExp(`^ {2}${esc(ref)}\\s+✘ failed\\s+\\d+\\.\\ds\\s+.*check Debian's version`, "m"),
        frame,
      );
      assert.match(frame, /^ {2}prom\/alertmanager:v0\.25\.0\s+↺ cached\s+\d+\.\ds$/m, frame);
      assert.is((e as ImageStepError).image, ref);
      assert.is((e as ImageStepError).step, "check Debian's version against the tag");
      assert.match((e as Error).message, /Debian bookworm has prometheus 2\.42\.0.*not 9\.9\.9/);
    }
    assert.is(await idOf(ref), "");
    assert.equal(await tempTags(), []);
  },
);

test.run();
