/**
 * Contract tests: the real Dagger SDK (pinned 0.21.9) against the recording GraphQL server, for
 * the build, scan and deploy stages. Each stage runs on a temp root, so reports/ of the repo is untouched.
 */
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig } from "../../../../../ci/config.js";
import { openDagger } from "../../../../../ci/engines/dagger/index.js";
import { localRows } from "../../../../../ci/lib/cells.js";
import { readSettings } from "../../../../../ci/settings.js";
import type { StageContext, StageOptions, StageResult } from "../../../../../ci/stage.js";
import { build } from "../../../../../ci/stages/build/index.js";
import { deploy } from "../../../../../ci/stages/deploy/index.js";
import { changelogRun, checkRun } from "../../../../../ci/stages/scan/debian/runs.js";
import { scan } from "../../../../../ci/stages/scan/index.js";
import { type Answer, secretLeaks, startRecorder } from "../../../../helpers/dagger-recorder.js";
import { saveEnv } from "../../../../helpers/env.js";

const CA = `ca-marker-${process.pid}`;
/** A CA bundle holding one certificate-shaped block with the marker (the engine passes on what Node lacks). */
const CA_PEM = `-----BEGIN CERTIFICATE-----\n${CA}\n-----END CERTIFICATE-----\n`;
const PASSWORD = `registry-password-${process.pid}`;
const TOKEN = `ghp_token_marker_${process.pid}`;
const repoRoot = process.cwd();
const SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** A temp root: a git repo with package.json, the environments and the ignore file. */
function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "dagger-stages-"));
  cpSync(join(repoRoot, "package.json"), join(root, "package.json"));
  cpSync(join(repoRoot, ".dockerignore"), join(root, ".dockerignore"));
  cpSync(join(repoRoot, "docker", "environments"), join(root, "docker", "environments"), {
    recursive: true,
  });
  writeFileSync(join(root, ".trivyignore"), "CVE-2023-4911\n");
  const git = (...a: string[]) => execFileSync("git", ["-C", root, ...a], { stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("add", ".");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init");
  return root;
}

/** Writes the file an `export` names, as the engine would (fixture JSON for scan reports). */
const exporting: Answer = (field, _path, args) => {
  if (field !== "export" || typeof args.path !== "string") return undefined;
  const path = args.path;
  if (path.endsWith(".json.partial")) {
    const report = JSON.parse(
      readFileSync(join(repoRoot, "test/fixtures/trivy/vulnerable.json"), "utf8"),
    );
    report.Metadata.ImageConfig.architecture = path.includes("arm64") ? "arm64" : "amd64";
    writeFileSync(path, JSON.stringify(report));
  } else writeFileSync(path, "");
  return path;
};

/** Runs one stage on the Dagger engine against a fresh recorder. */
async function stage(
  fn: (ctx: StageContext) => Promise<StageResult>,
  root: string,
  options: Partial<StageOptions> = {},
  env: Record<string, string> = {},
  caBundle = CA_PEM,
) {
  const rec = await startRecorder(exporting);
  const restoreEnv = saveEnv();
  Object.assign(process.env, rec.env, env);
  const caFile = join(root, "ca.pem");
  writeFileSync(caFile, caBundle);
  const settings = await readSettings({ ...process.env, NODE_EXTRA_CA_CERTS: caFile });
  const lines: string[] = [];
  const engine = await openDagger({ cache: true, runId: "contract", settings: settings.engine });
  try {
    const config = await loadConfig(join(repoRoot, "ci/pipeline.yaml"));
    config.deploy.timeoutSeconds = 1;
    const ctx: StageContext = {
      engine,
      config,
      options: { only: [], failFast: false, push: false, down: false, volumes: false, ...options },
      root,
      runId: "contract",
      log: (l) => lines.push(l),
      cellLog: (c) => (l) => lines.push(`[${c}] ${l}`),
      row: localRows((c) => (l) => lines.push(`[${c}] ${l}`)),
      settings: settings.stages,
      signal: new AbortController().signal,
    };
    const result = await fn(ctx);
    return { result, lines, rec, queries: rec.normalised(), chains: rec.chains() };
  } finally {
    await engine.close();
    restoreEnv();
    await rec.close();
  }
}

/** Queries holding `text`. */
const holding = (queries: string[], text: string) => queries.filter((q) => q.includes(text));

test("build: dockerBuild per platform with label args and the CA secret; both variants reach export; native loaded", async () => {
  const root = tempRoot();
  try {
    const { result, queries, rec } = await stage((c) => build.run(c), root);
    assert.is(result.status, "passed", result.detail);
    assert.is(rec.refused, 0);
    const builds = holding(queries, "dockerBuild(");
    for (const platform of ["linux/amd64", "linux/arm64"]) {
      const q = builds.find((b) => b.includes(`platform: "${platform}"`));
      assert.ok(q, `no dockerBuild for ${platform}`);
      assert.match(q as string, 'dockerfile: "docker/Dockerfile"');
      assert.match(q as string, /buildArgs: \[.*\{name: "OCI_REVISION", value: "[0-9a-f]{40}"\}/);
      assert.match(q as string, '{name: "NODE_IMAGE", value: "node:26-bookworm-slim"}');
      assert.match(q as string, 'secrets: ["<id:setSecret>"]');
    }
    const multi = holding(queries, "codex-father.oci.tar.partial");
    assert.is(multi.length, 1);
    assert.match(multi[0] as string, /platformVariants: \["<id:[a-zA-Z]+>", "<id:[a-zA-Z]+>"\]/);
    assert.is(holding(queries, "codex-father-arm64.tar.partial").length, 1);
    const manifest = JSON.parse(readFileSync(join(root, "reports/build.json"), "utf8"));
    assert.equal(manifest.tags.slice(0, 1), ["0.1.0"]);
    assert.ok(
      holding(queries, `exportImage(name: "codex-father:${manifest.deployTag}")`).length === 1,
    );
    assert.ok(holding(queries, CA).length > 0, "the CA reached the engine");
    assert.equal(secretLeaks(rec.queries, CA), [], "the CA appears only in setSecret");
    // A repo with no remote URL and no GITHUB_REPOSITORY: no source label rather than a made-up one.
    assert.is(holding(queries, "org.opencontainers.image.source").length, 0);
    // The context is uploaded with .dockerignore applied on the way, the Dockerfile kept as docker does.
    const ignore = readFileSync(join(root, ".dockerignore"), "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#"));
    const uploads = holding(queries, `directory( path: "${root}"`);
    assert.ok(uploads.length > 0, "the build context is uploaded");
    for (const q of uploads)
      assert.match(
        q,
        `exclude: ${JSON.stringify([...ignore, "!docker/Dockerfile"]).replaceAll(",", ", ")}`,
      );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("build: a CA bundle over setSecret's 128,000 bytes (the whole system bundle) goes in as what Node lacks", async () => {
  const root = tempRoot();
  const system = existsSync(SYSTEM_BUNDLE)
    ? readFileSync(SYSTEM_BUNDLE, "utf8")
    : rootCertificates.join("\n");
  const bundle = `${system}\n${CA_PEM}${rootCertificates.join("\n")}\n`;
  assert.ok(
    Buffer.byteLength(bundle) > 128_000,
    `the test bundle is ${Buffer.byteLength(bundle)} bytes`,
  );
  try {
    const { result, rec } = await stage((c) => build.run(c), root, {}, {}, bundle);
    assert.is(result.status, "passed", result.detail);
    const secrets = rec.queries.filter((q) => q.query.includes("setSecret"));
    const ca = secrets.find((q) => q.query.includes(CA));
    assert.ok(ca, "the marker certificate reached setSecret");
    assert.ok(
      Buffer.byteLength(ca.query) < 128_000,
      `setSecret got ${Buffer.byteLength(ca.query)} bytes`,
    );
    assert.equal(secretLeaks(rec.queries, CA), [], "the CA appears only in setSecret");
    const root0 = (rootCertificates[0] ?? "").split("\n")[1] ?? "";
    assert.not.ok(ca.query.includes(root0), "a root Node already trusts is not sent again");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("build in the Dagger module's runner (CODEX_CI_DAGGER_MODULE=1): tarballs written, nothing loaded, the log says why", async () => {
  const root = tempRoot();
  try {
    const { result, queries, lines } = await stage(
      (c) => build.run(c),
      root,
      {},
      { CODEX_CI_DAGGER_MODULE: "1" },
    );
    assert.is(result.status, "passed", result.detail);
    assert.is(holding(queries, "exportImage(").length, 0, "no export into a Docker daemon");
    assert.is(
      holding(queries, "codex-father-arm64.tar.partial").length,
      1,
      "tarballs still written",
    );
    assert.not.ok(
      result.cells?.some((c) => c.name === "load"),
      "no load row: nothing was loaded",
    );
    assert.ok(lines.some((l) => l.startsWith("no Docker daemon to load into")));
    const manifest = JSON.parse(readFileSync(join(root, "reports/build.json"), "utf8"));
    assert.is(manifest.loaded, undefined, "the manifest does not claim a load that did not happen");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("build --push: publish with both variants, credentials via withRegistryAuth, password only in setSecret", async () => {
  const root = tempRoot();
  try {
    const { result, queries, rec } = await stage(
      (c) => build.run(c),
      root,
      { push: true },
      {
        CODEX_REGISTRY: "127.0.0.1:5000",
        CODEX_REGISTRY_USERNAME: "bot",
        GITHUB_SERVER_URL: "https://github.example",
        GITHUB_REPOSITORY: "acme/cf",
        CODEX_REGISTRY_PASSWORD: PASSWORD,
      },
    );
    assert.is(result.status, "passed", result.detail);
    // A build that knows its repository labels the image with it.
    for (const label of ["source", "url"])
      assert.ok(
        holding(
          queries,
          `withLabel( name: "org.opencontainers.image.${label}" value: "https://github.example/acme/cf" )`,
        ).length > 0,
        label,
      );
    const pubs = holding(queries, "publish(");
    assert.is(pubs.length, 3, "one publish per tag: version, sha, branch");
    for (const q of pubs) {
      assert.match(
        q,
        /publish\( address: "127\.0\.0\.1:5000\/codex-father:[^"]+" platformVariants: \["<id:[a-zA-Z]+>", "<id:[a-zA-Z]+>"\]/,
      );
      assert.match(
        q,
        'withRegistryAuth( address: "127.0.0.1:5000" username: "bot" secret: "<id:setSecret>" )',
      );
    }
    assert.ok(
      holding(queries, 'publish( address: "127.0.0.1:5000/codex-father:main"').length === 1,
    );
    assert.ok(holding(queries, PASSWORD).length > 0, "the password reached the engine");
    assert.equal(secretLeaks(rec.queries, PASSWORD), [], "password only in setSecret");
    // What is pushed is what scan reads: the tarballs are written too.
    assert.is(holding(queries, "codex-father-arm64.tar.partial").length, 1);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("scan: trivy --input on each platform's tarball with the severity flags and the DB cache volume", async () => {
  const root = tempRoot();
  try {
    mkdirSync(join(root, "reports/images"), { recursive: true });
    for (const a of ["amd64", "arm64"])
      writeFileSync(join(root, `reports/images/codex-father-${a}.tar`), "");
    writeFileSync(
      join(root, "reports/build.json"),
      JSON.stringify({
        image: "codex-father",
        tags: ["0.1.0"],
        deployTag: "0.1.0",
        platforms: ["amd64", "arm64"].map((a) => ({
          platform: `linux/${a}`,
          tarball: `reports/images/codex-father-${a}.tar`,
        })),
        published: [],
      }),
    );
    const { result, queries, chains } = await stage((c) => scan.run(c), root);
    const trivy = chains.filter((c) => c[1] === 'from(address: "aquasec/trivy:0.50.1")');
    const execs = new Set(trivy.flatMap((c) => c.filter((op) => op.startsWith("withExec("))));
    assert.is(execs.size, 1);
    const exec = [...execs][0] as string;
    assert.match(exec, '["trivy", "image", "--input", "/scan/image.tar", "--format", "json"');
    assert.match(exec, '"--severity", "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL"');
    assert.match(exec, '"--ignorefile", "/scan/.trivyignore"');
    for (const a of ["amd64", "arm64"])
      assert.ok(
        holding(queries, `file(path: "${join(root, `reports/images/codex-father-${a}.tar`)}")`)
          .length > 0,
        a,
      );
    assert.ok(
      trivy.some((c) =>
        c.includes('withMountedCache(path: "/root/.cache/trivy", cache: "<id:cacheVolume>")'),
      ),
    );
    assert.ok(queries.includes('{ cacheVolume(key: "codex-ci-trivy") { id } }'));
    // The fixture has fixable HIGHs left after .trivyignore, so the gate fails it on both platforms.
    assert.is(result.status, "failed");
    assert.match(
      result.detail ?? "",
      "linux/amd64: CRITICAL 1, HIGH 2, MEDIUM 1, LOW 1, UNKNOWN 1 (2 blocking, 1 ignored)",
    );
    const sarif = JSON.parse(readFileSync(join(root, "reports/trivy.sarif"), "utf8"));
    assert.is(sarif.runs.length, 2);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("scan with a non-default policy: severity [CRITICAL] and ignoreUnfixed false gate on the unfixed CRITICAL alone", async () => {
  const root = tempRoot();
  try {
    mkdirSync(join(root, "reports/images"), { recursive: true });
    writeFileSync(join(root, "reports/images/codex-father-amd64.tar"), "");
    writeFileSync(
      join(root, "reports/build.json"),
      JSON.stringify({
        image: "codex-father",
        tags: ["0.1.0"],
        deployTag: "0.1.0",
        platforms: [{ platform: "linux/amd64", tarball: "reports/images/codex-father-amd64.tar" }],
        published: [],
      }),
    );
    // The fixture after .trivyignore: CRITICAL 1 (no fix), HIGH 2 (fixed), MEDIUM 1, LOW 1, UNKNOWN 1.
    // Default policy: the 2 fixable HIGHs block. [CRITICAL] + ignoreUnfixed false: the unfixed CRITICAL alone.
    // [CRITICAL] + ignoreUnfixed true: nothing (its only CRITICAL has no fix).
    for (const [ignoreUnfixed, status, blocking, policyLine] of [
      [false, "failed", 1, "policy: fail on CRITICAL; 1 accepted"],
      [true, "passed", 0, "policy: fail on CRITICAL with a fix available; 1 accepted"],
    ] as const) {
      const { result, lines, chains } = await stage(
        (c) =>
          scan.run({
            ...c,
            config: {
              ...c.config,
              scan: { ...c.config.scan, severity: ["CRITICAL"], ignoreUnfixed },
            },
          }),
        root,
      );
      assert.is(result.status, status, `${ignoreUnfixed}: ${result.detail}`);
      assert.match(
        result.detail ?? "",
        `linux/amd64: CRITICAL 1, HIGH 2, MEDIUM 1, LOW 1, UNKNOWN 1 (${blocking} blocking, 1 ignored)`,
      );
      assert.ok(
        lines.some((l) => l.startsWith(policyLine)),
        `${ignoreUnfixed}: ${lines.join("\n")}`,
      );
      // Trivy still reports every severity: the policy is the gate's alone.
      const exec = chains
        .flatMap((c) => c.filter((op) => op.startsWith("withExec(")))
        .find((op) => op.includes('"trivy", "image"'));
      assert.match(exec ?? "", '"--severity", "UNKNOWN,LOW,MEDIUM,HIGH,CRITICAL"');
      assert.not.match(exec ?? "", "--ignore-unfixed");
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("deploy: docker CLI image with the host's socket, compose argv with the env override, token only in setSecret", async () => {
  const root = tempRoot();
  try {
    mkdirSync(join(root, "reports"), { recursive: true });
    writeFileSync(
      join(root, "reports/build.json"),
      JSON.stringify({
        image: "codex-father",
        tags: ["sha-abc1234"],
        deployTag: "sha-abc1234",
        platforms: [{ platform: "linux/amd64" }],
        loaded: "linux/amd64",
        published: [],
      }),
    );
    const { result, chains, queries, rec } = await stage(
      (c) => deploy.run(c),
      root,
      { env: "staging" },
      { GITHUB_TOKEN: TOKEN, COMPOSE_PROJECT_NAME: "" },
    );
    const cli = chains.filter((c) => c[1] === 'from(address: "docker:24.0-cli")');
    assert.ok(cli.length > 0);
    assert.ok(
      cli.every((c) =>
        c.includes('withUnixSocket(path: "/var/run/docker.sock", source: "<id:unixSocket>")'),
      ),
    );
    assert.ok(
      cli.every((c) => c.includes('withDirectory(path: "/src", source: "<id:directory>")')),
      "the repo copied in, never bind-mounted",
    );
    assert.ok(
      cli.every((c) =>
        c.includes('withSecretVariable(name: "GITHUB_TOKEN", secret: "<id:setSecret>")'),
      ),
    );
    const ops = cli.flat();
    assert.ok(
      ops.includes('withEnvVariable(name: "CODEX_IMAGE", value: "codex-father:sha-abc1234")'),
    );
    assert.ok(
      ops.includes(
        'withExec(args: ["docker", "compose", "-p", "codex-father-staging", "-f", "docker/compose.yaml", "-f", "docker/environments/staging.yaml", "up", "-d", "--remove-orphans"], expect: ANY)',
      ),
    );
    assert.ok(holding(queries, TOKEN).length > 0, "the token reached the engine");
    assert.equal(secretLeaks(rec.queries, TOKEN), [], "token only in setSecret");
    // The recorder starts no containers, so health never comes and there is nothing to roll back to.
    assert.is(result.status, "failed");
    assert.match(result.detail ?? "", "no containers started");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("deploy: a tcp:// DOCKER_HOST is reached as such, with no socket of the caller mounted", async () => {
  const root = tempRoot();
  try {
    const { chains } = await stage(
      (c) => deploy.run(c),
      root,
      { down: true },
      { DOCKER_HOST: "tcp://10.20.30.40:2375", COMPOSE_PROJECT_NAME: "" },
    );
    const cli = chains.filter((c) => c[1] === 'from(address: "docker:24.0-cli")');
    assert.ok(cli.length > 0);
    assert.ok(
      cli.every((c) =>
        c.includes('withEnvVariable(name: "DOCKER_HOST", value: "tcp://10.20.30.40:2375")'),
      ),
    );
    assert.not.ok(chains.some((c) => c.some((op) => op.startsWith("withUnixSocket"))));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("deploy --down keeps named volumes unless --volumes", async () => {
  const root = tempRoot();
  try {
    const keep = await stage(
      (c) => deploy.run(c),
      root,
      { down: true },
      { COMPOSE_PROJECT_NAME: "" },
    );
    assert.is(keep.result.status, "passed");
    const downs = (r: typeof keep) => r.chains.flat().filter((op) => op.includes('"down"'));
    assert.ok(downs(keep).length > 0 && downs(keep).every((op) => !op.includes("--volumes")));
    const wipe = await stage(
      (c) => deploy.run(c),
      root,
      { down: true, volumes: true },
      { COMPOSE_PROJECT_NAME: "" },
    );
    assert.ok(downs(wipe).some((op) => op.includes('"down", "--remove-orphans", "--volumes"')));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test("debian-security containers on Dagger: the given image on its platform, as root, apt files, cache volume, outputs", async () => {
  const rec = await startRecorder();
  const restoreEnv = saveEnv();
  Object.assign(process.env, rec.env);
  const dir = mkdtempSync(join(tmpdir(), "dagger-debsec-"));
  const engine = await openDagger({
    cache: true,
    runId: "contract",
    settings: (await readSettings(process.env)).engine,
  });
  try {
    const files = {
      sources: join(dir, "sources.list"),
      fetchConf: join(dir, "apt-fetch.conf"),
      checkConf: join(dir, "apt-check.conf"),
    };
    for (const f of Object.values(files)) writeFileSync(f, "");
    // The image is a parameter: any reference (or, later, a handle) the engine can start from.
    await engine.run(checkRun("registry.example/app@sha256:abc", "linux/arm64", files));
    const item = {
      pkg: "libexpat1",
      arch: "arm64",
      installed: "2.5.0-1+deb12u2",
      fixed: "2.5.0-1+deb12u5",
    };
    await engine.run(changelogRun("app:t-amd64", "linux/amd64", files, [item], join(dir, "out")));
    const chains = rec.chains();
    const longest = (from: string) =>
      chains
        .filter((c) => c[1] === `from(address: "${from}")`)
        .reduce((a, b) => (b.length > a.length ? b : a), [] as string[]);
    const check = longest("registry.example/app@sha256:abc");
    assert.equal(check.slice(0, 3), [
      'container(platform: "linux/arm64")',
      'from(address: "registry.example/app@sha256:abc")',
      'withUser(name: "root")',
    ]);
    for (const op of [
      'withFile(path: "/scan/sources.list", source: "<id:file>")',
      'withMountedCache(path: "/var/cache/codex-scan", cache: "<id:cacheVolume>")',
      'withEnvVariable(name: "APT_CONFIG", value: "/scan/apt-check.conf")',
      'withExec(args: ["apt-get", "-s", "upgrade"], expect: ANY)',
      'withExec(args: ["node", "--version"], expect: ANY)',
    ])
      assert.ok(check.includes(op), `missing ${op}`);
    assert.ok(
      rec.normalised().some((q) => q.includes('cacheVolume(key: "codex-ci-debian-security")')),
    );
    const changelogs = longest("app:t-amd64");
    assert.ok(
      changelogs.includes(
        'withExec(args: ["sh", "/scan/changelogs.sh", "/var/cache/codex-scan", "/tmp/codex-scan-changelogs", "libexpat1:arm64=2.5.0-1+deb12u2=2.5.0-1+deb12u5"], expect: ANY)',
      ),
      changelogs.join("\n"),
    );
    assert.ok(
      rec.normalised().some((q) => q.includes(`export(path: "${join(dir, "out")}"`)),
      "the excerpts are exported to the host",
    );
  } finally {
    await engine.close();
    restoreEnv();
    await rec.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
