/**
 * E2E on the Docker engine: `build` for amd64 and arm64 (arm64 under qemu), the push path against
 * a real local registry, and `scan` with the test scanner image. The app image is built once and
 * reused; everything made is named with this run's id and removed after the suite.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { PipelineConfig } from "../../../ci/config.js";
import type { Engine } from "../../../ci/engine.js";
import { build } from "../../../ci/stages/build/index.js";
import type { BuildManifest } from "../../../ci/stages/build/manifest.js";
import { scan } from "../../../ci/stages/scan/index.js";
import { dockerTest } from "../../helpers/docker.js";
import {
  cleanup,
  context,
  docker,
  dockerTry,
  e2eConfig,
  engine,
  id,
  onCleanup,
  removeImages,
  repoRoot,
  sharedBuild,
  tempRoot,
} from "./harness.js";

let e: Engine;
let config: PipelineConfig;
let root: string;
let manifest: BuildManifest;
const FAKE = `codex-test/fake-trivy:${id}`;

test.before(async () => {
  e = await engine();
  config = await e2eConfig();
  root = tempRoot();
});
test.after(cleanup);

dockerTest(
  test,
  "build: amd64 and arm64 with OCI labels, per-arch tags, tarballs, native variant loaded",
  async () => {
    ({ manifest } = await sharedBuild(e, config, root));
    const revision = manifest.revision;
    assert.equal(manifest.tags, ["0.1.0", `sha-${revision.slice(0, 7)}`, "main"]);
    for (const arch of ["amd64", "arm64"]) {
      const ref = `${config.image.name}:${manifest.deployTag}-${arch}`;
      const [os, imgArch, rev, version, created] = docker(
        "image",
        "inspect",
        "--format",
        '{{.Os}} {{.Architecture}} {{index .Config.Labels "org.opencontainers.image.revision"}} {{index .Config.Labels "org.opencontainers.image.version"}} {{index .Config.Labels "org.opencontainers.image.created"}}',
        ref,
      ).split(" ");
      assert.equal(
        [os, imgArch, rev, version, created],
        ["linux", arch, revision, "0.1.0", manifest.created],
        ref,
      );
      assert.ok(
        existsSync(join(root, `reports/images/${config.image.name}-${arch}.tar`)),
        `${arch} tarball`,
      );
    }
    for (const tag of manifest.tags)
      assert.is(
        docker("image", "inspect", "--format", "{{.Architecture}}", `${config.image.name}:${tag}`),
        "amd64",
        tag,
      );
    // The arm64 variant really is arm64 code, running under qemu.
    assert.is(nodeArch(`${config.image.name}:${manifest.deployTag}-arm64`), "arm64");
  },
);

/**
 * `process.arch` as the image's own node reports it, run as linux/arm64 (under qemu on amd64), after loading
 * the production dependencies, which the Dockerfile installs on the build platform.
 */
const nodeArch = (ref: string): string =>
  docker(
    "run",
    "--rm",
    "--platform",
    "linux/arm64",
    "--entrypoint",
    "node",
    ref,
    "-p",
    'require("zx") && require("prom-client") && process.arch',
  );

/** Waits until something listens on 127.0.0.1:port. */
async function listening(port: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        r(true);
      }).on("error", () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

dockerTest(
  test,
  "build --push: per-arch images and a manifest list in a local registry; arm64 pulls and runs",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), `codex-e2e-registry-${id}-`));
    writeFileSync(
      join(dir, "config.yml"),
      `version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: ${dir}/data\nhttp:\n  addr: 127.0.0.1:5000\n`,
    );
    const registry: ChildProcess = spawn(
      "/usr/bin/docker-registry",
      ["serve", join(dir, "config.yml")],
      { stdio: "ignore" },
    );
    const stop = () => {
      registry.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    };
    onCleanup(stop);
    try {
      await listening(5000, 15_000);
      const pushRoot = tempRoot();
      const ctx = context(
        e,
        { ...config, image: { ...config.image, tags: ["sha"] } },
        pushRoot,
        { push: true },
        { registry: { repository: "127.0.0.1:5000" } },
      );
      const result = await build.run(ctx);
      assert.is(result.status, "passed", `${result.detail}\n${ctx.lines.slice(-30).join("\n")}`);
      const pushed: BuildManifest = JSON.parse(
        readFileSync(join(pushRoot, "reports/build.json"), "utf8"),
      );
      const ref = `127.0.0.1:5000/${config.image.name}:${pushed.deployTag}`;
      onCleanup(() => removeImages(`127.0.0.1:5000/${config.image.name}`));
      assert.match(
        pushed.published[0] ?? "",
        new RegExp(`^${ref.replace(/[.]/g, "\\.")}@sha256:[0-9a-f]{64}$`),
      );
      const list = JSON.parse(docker("manifest", "inspect", "--insecure", ref)) as {
        manifests: { platform: { architecture: string } }[];
      };
      assert.equal(list.manifests.map((m) => m.platform.architecture).sort(), ["amd64", "arm64"]);
      docker("pull", "--quiet", "--platform", "linux/arm64", ref);
      assert.is(docker("image", "inspect", "--format", "{{.Architecture}}", ref), "arm64");
      assert.is(nodeArch(ref), "arm64");
    } finally {
      stop();
    }
  },
);

/** Builds the test scanner image with one fixture baked in. */
function fakeScanner(fixture: string): string {
  const tag = `${FAKE}-${fixture}`;
  const r = dockerTry(
    "build",
    "-q",
    "-f",
    "test/fixtures/fake-trivy/Dockerfile",
    "--build-arg",
    `FIXTURE=${fixture}`,
    "-t",
    tag,
    join(repoRoot, "test/fixtures"),
  );
  if (r.status !== 0) throw new Error(`building ${tag}: ${r.out}`);
  onCleanup(() => {
    dockerTry("rmi", tag);
  });
  return tag;
}

dockerTest(
  test,
  "scan: the test scanner reads each platform's tarball; a clean report passes with counts per platform",
  async () => {
    assert.ok(manifest, "needs the build test");
    const ctx = context(
      e,
      { ...config, images: { ...config.images, trivy: fakeScanner("clean") } },
      root,
    );
    const result = await scan.run(ctx);
    assert.is(result.status, "passed", `${result.detail}\n${ctx.lines.join("\n")}`);
    for (const arch of ["amd64", "arm64"]) {
      assert.match(
        result.detail ?? "",
        `linux/${arch}: CRITICAL 0, HIGH 0, MEDIUM 0, LOW 0, UNKNOWN 0 (0 blocking)`,
      );
      // The scanner took the architecture from the tarball itself.
      const report = JSON.parse(readFileSync(join(root, `reports/trivy/${arch}.json`), "utf8"));
      assert.is(report.Metadata.ImageConfig.architecture, arch);
      assert.is(report.ArtifactName, "/scan/image.tar");
    }
    const sarif = JSON.parse(readFileSync(join(root, "reports/trivy.sarif"), "utf8"));
    assert.equal(
      sarif.runs.map((r: { automationDetails: { id: string } }) => r.automationDetails.id),
      ["trivy/linux/amd64/", "trivy/linux/arm64/"],
    );
  },
);

dockerTest(
  test,
  "scan: fixable HIGH findings fail the gate; .trivyignore is honoured",
  async () => {
    writeFileSync(join(root, ".trivyignore"), "# accepted for the test\nCVE-2023-4911\n");
    const ctx = context(
      e,
      { ...config, images: { ...config.images, trivy: fakeScanner("vulnerable") } },
      root,
    );
    const result = await scan.run(ctx);
    assert.is(result.status, "failed");
    assert.match(
      result.detail ?? "",
      "linux/arm64: CRITICAL 1, HIGH 2, MEDIUM 1, LOW 1, UNKNOWN 1 (2 blocking)",
    );
    assert.match(result.markdown ?? "", "- linux/amd64: CVE-2024-2961 (HIGH) in libc6");
    assert.not.match(result.markdown ?? "", "CVE-2023-4911");
    const sarif = readFileSync(join(root, "reports/trivy.sarif"), "utf8");
    assert.match(sarif, '"ruleId": "CVE-2024-21538"');
    assert.not.match(sarif, "CVE-2023-4911");
  },
);

dockerTest(
  test,
  "scan: no scanner image, no registry and no fallback is a clear failure; disabled in config is an explicit skip",
  async () => {
    // With the default fallback this would be a debian-security scan (test/e2e/scan/); `none` fails as before.
    const missing = context(
      e,
      {
        ...config,
        images: { ...config.images, trivy: `codex-test/no-such-scanner:${id}` },
        scan: { ...config.scan, fallback: "none" },
      },
      root,
    );
    const result = await scan.run(missing);
    assert.is(result.status, "failed");
    assert.match(
      result.detail ?? "",
      `the scanner image codex-test/no-such-scanner:${id} is not on this machine and no registry is reachable`,
    );
    assert.match(result.detail ?? "", "--skip scan");
    const off = await scan.run(
      context(e, { ...config, scan: { ...config.scan, enabled: false } }, root),
    );
    assert.is(off.status, "skipped");
    assert.match(off.detail ?? "", "scan.enabled is false");
  },
);

dockerTest(test, "the test scanner refuses a file that is not an image archive", async () => {
  const dir = mkdtempSync(join(tmpdir(), `codex-e2e-bad-${id}-`));
  try {
    writeFileSync(join(dir, "bad.tar"), "not a tarball at all".repeat(100));
    const r = dockerTry(
      "run",
      "--rm",
      "-v",
      `${dir}:/in:ro`,
      `${FAKE}-clean`,
      "image",
      "--input",
      "/in/bad.tar",
      "--format",
      "json",
    );
    assert.is(r.status, 1);
    assert.match(r.out, "not a tar archive");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
