/**
 * E2E on the Docker engine: the scan stage's debian-security fallback, against the real Debian mirror.
 *
 * A small image FROM the offline node stand-in, upgraded from its suites but with libexpat1 pinned to
 * bookworm's point-release version 2.5.0-1+deb12u2 while bookworm-security has 2.5.0-1+deb12u5 (found in
 * the Packages lists: `apt-cache policy libexpat1`). No Trivy image exists, so the stage falls back, fails
 * naming the package, the fixed version and CVE IDs, and passes once `.trivyignore` accepts the package.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { PipelineConfig } from "../../../ci/config.js";
import type { Engine } from "../../../ci/engine.js";
import { archOf, nativePlatform } from "../../../ci/lib/platform.js";
import { scan } from "../../../ci/stages/scan/index.js";
import { dockerTest } from "../../helpers/docker.js";
import {
  cleanup,
  context,
  dockerTry,
  e2eConfig,
  engine,
  id,
  onCleanup,
  removeImages,
} from "../pipeline/harness.js";

const PLATFORM = nativePlatform();
const OLD = "2.5.0-1+deb12u2";
const FIXED = "2.5.0-1+deb12u5";
const NAME = `codex-e2e-debsec-${id}`;
const TRIVY = `codex-test/no-such-trivy:${id}`;

/** `s` as a literal in a RegExp. */
const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

let e: Engine;
let config: PipelineConfig;
let root: string;

test.before(async () => {
  e = await engine();
  const base = await e2eConfig();
  config = {
    ...base,
    platforms: [PLATFORM],
    images: { ...base.images, trivy: TRIVY },
    scan: { ...base.scan, fallback: "debian-security" },
  };
  root = mkdtempSync(join(tmpdir(), `codex-e2e-debsec-${id}-`));
  onCleanup(() => rmSync(root, { recursive: true, force: true }));
});
test.after(cleanup);

/** A build record for `image` (tagged `<image>:t-<arch>`) in `dir`, as the build stage leaves it. */
function buildRecord(dir: string, image: string): void {
  mkdirSync(join(dir, "reports/images"), { recursive: true });
  // Trivy would read the tarball; its image is missing, so it never starts and the fallback scans the tag.
  writeFileSync(join(dir, "reports/images/unused-by-the-fallback.tar"), "");
  writeFileSync(
    join(dir, "reports/build.json"),
    JSON.stringify({
      image,
      tags: ["t"],
      deployTag: "t",
      platforms: [{ platform: PLATFORM, tarball: "reports/images/unused-by-the-fallback.tar" }],
      published: [],
      revision: "e2e",
      version: "0.0.0",
      created: "1970-01-01T00:00:00Z",
    }),
  );
}

/** Builds `dockerfile` as `<name>:t-<arch>`, removed after the suite. */
function image(name: string, dockerfile: string): void {
  const dir = mkdtempSync(join(tmpdir(), `codex-e2e-debsec-ctx-${id}-`));
  onCleanup(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, "Dockerfile"), dockerfile);
  onCleanup(() => removeImages(name));
  const r = dockerTry("build", "-q", "-t", `${name}:t-${archOf(PLATFORM)}`, dir);
  if (r.status !== 0) throw new Error(`building ${name}: ${r.out}`);
}

/**
 * The pinned image: upgraded, then libexpat1 taken back to bookworm's version; its apt sources then keep only
 * the main suite, as images that trim them do, so the scan has to add the security and updates suites.
 */
function pinnedImage(): void {
  image(
    NAME,
    `FROM ${config.images.node.replace("{version}", config.image.nodeVersion)}
RUN apt-get update -qq && apt-get upgrade -y -qq \\
 && apt-get install -y -qq --allow-downgrades libexpat1=${OLD} \\
 && rm -rf /var/lib/apt/lists/* \\
 && echo 'deb http://deb.debian.org/debian bookworm main' > /etc/apt/sources.list
USER node
`,
  );
  buildRecord(root, NAME);
}

dockerTest(
  test,
  "no Trivy: debian-security fails on the pinned package, naming it, the fixed version and CVE IDs",
  async () => {
    pinnedImage();
    const ctx = context(e, config, root);
    const result = await scan.run(ctx);
    const log = ctx.lines.join("\n");
    assert.is(result.status, "failed", `${result.detail}\n${log}`);
    assert.ok(
      result.detail?.startsWith(
        `scanner: debian-security (Trivy unavailable: its image ${TRIVY} is not on this machine and no registry is reachable); ${PLATFORM}: security updates pending for 1 package(s)`,
      ),
      result.detail,
    );
    assert.match(
      result.detail ?? "",
      new RegExp(`${escaped(`libexpat1 ${OLD} → ${FIXED}`)} \\(CVE-\\d{4}-\\d+`),
    );
    assert.match(result.markdown ?? "", "Scanner: **debian-security** (Trivy unavailable: ");
    assert.match(result.markdown ?? "", `- ${PLATFORM}: libexpat1 ${OLD} → ${FIXED}: CVE-`);
    assert.match(result.markdown ?? "", "npm packages in the image (node_modules) are not scanned");
    assert.match(
      result.markdown ?? "",
      `- ${PLATFORM}: the image's apt sources lack bookworm-security and bookworm-updates: added for the check`,
    );
    const sarif = JSON.parse(readFileSync(join(root, "reports/trivy.sarif"), "utf8"));
    const [run] = sarif.runs;
    assert.is(run.tool.driver.name, "debian-security");
    assert.ok(run.results.length > 0);
    for (const r of run.results) {
      assert.match(r.ruleId, /^CVE-\d{4}-\d+$/);
      assert.match(r.message.text, `Package: libexpat1\nInstalled Version: ${OLD}`);
      assert.match(r.message.text, `Fixed Version: ${FIXED}`);
    }
    // The lists were fetched by the native update; the platform's check only read them.
    assert.match(log, "apt-get update --error-on=any");
    assert.match(log, `Inst libexpat1 [${OLD}] (${FIXED} Debian-Security:`);
  },
);

dockerTest(
  test,
  ".trivyignore: pkg:libexpat1 with an expiry turns the failure into a pass, the findings counted as accepted",
  async () => {
    writeFileSync(join(root, ".trivyignore"), "pkg:libexpat1 exp:2099-12-31  # e2e: accepted\n");
    const ctx = context(e, config, root);
    const result = await scan.run(ctx);
    assert.is(result.status, "passed", `${result.detail}\n${ctx.lines.join("\n")}`);
    const accepted = /\(0 blocking, (\d+) accepted\)/.exec(result.detail ?? "");
    assert.ok(accepted && Number(accepted[1]) > 0, result.detail);
    assert.match(
      result.markdown ?? "",
      `| ${PLATFORM} | 1 | ${accepted?.[1]} | 0 | ${accepted?.[1]} |`,
    );
    // The changelog came from the cache volume this time.
    assert.match(ctx.lines.join("\n"), `libexpat1 ${FIXED}: cached`);
    const sarif = JSON.parse(readFileSync(join(root, "reports/trivy.sarif"), "utf8"));
    assert.is(sarif.runs[0].results.length, 0);
  },
);

dockerTest(
  test,
  "a Debian mirror that cannot be reached fails the scan with apt's error",
  async () => {
    const name = `${NAME}-no-mirror`;
    // Port 9 on the container's own loopback: refused at once, no traffic leaves the container.
    image(
      name,
      `FROM ${NAME}:t-${archOf(PLATFORM)}\nUSER root\nRUN echo 'deb http://127.0.0.1:9/debian bookworm main' > /etc/apt/sources.list\n`,
    );
    const dir = mkdtempSync(join(tmpdir(), `codex-e2e-debsec-nomirror-${id}-`));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    buildRecord(dir, name);
    const ctx = context(e, config, dir);
    const result = await scan.run(ctx);
    assert.is(result.status, "failed", ctx.lines.join("\n"));
    assert.match(
      result.detail ?? "",
      "scanner: debian-security (Trivy unavailable: ",
      result.detail,
    );
    assert.match(result.detail ?? "", 'step "apt-get update" failed', result.detail);
    assert.match(
      result.detail ?? "",
      /E: Failed to fetch http:\/\/127\.0\.0\.1:9\/debian(-security)?\/dists\/bookworm-(security|updates)\/InRelease +Unable to connect to 127\.0\.0\.1:9/,
    );
  },
);

dockerTest(test, "scan.fallback: none fails as without a fallback, naming what to do", async () => {
  const ctx = context(e, { ...config, scan: { ...config.scan, fallback: "none" } }, root);
  const result = await scan.run(ctx);
  assert.is(result.status, "failed");
  assert.match(result.detail ?? "", `the scanner image ${TRIVY} is not on this machine`);
  assert.not.match(result.detail ?? "", "debian-security (");
});

test.run();
