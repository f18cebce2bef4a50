import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ConfigError,
  isImageRef,
  loadConfig,
  MAX_CONFIG_BYTES,
  matrixCells,
  nodeImage,
  parseConfig,
  REGISTRY,
} from "../../../ci/config.js";

const text = readFileSync("ci/pipeline.yaml", "utf8");

/** Line and column (1-based) of the first `what` on the first line of `src` that contains `lineHas`. */
function posOf(src: string, lineHas: string, what = lineHas): { line: number; col: number } {
  const lines = src.split("\n");
  const i = lines.findIndex((l) => l.includes(lineHas));
  if (i < 0) throw new Error(`no line with ${lineHas}`);
  return { line: i + 1, col: (lines[i] as string).indexOf(what) + 1 };
}

/** Asserts an error's line and column, and that its message starts with them. */
function assertAt(e: ConfigError, at: { line: number; col: number }): void {
  assert.equal({ line: e.line, col: e.col }, at, e.message);
  assert.ok(e.message.startsWith(`bad.yaml:${at.line}:${at.col}: `), e.message);
}

/** Parses `src` and returns the ConfigError it throws. */
function errorOf(src: string): ConfigError {
  try {
    parseConfig(src, "bad.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error("expected a ConfigError");
}

test("the shipped config loads with the documented defaults", async () => {
  const c = await loadConfig();
  assert.equal(c.node, ["22", "24", "26"]);
  assert.equal(c.test.kinds, ["unit", "integration", "e2e"]);
  assert.is(c.images.prometheus, "prom/prometheus:v2.42.0");
  assert.is(c.images.alertmanager, "prom/alertmanager:v0.25.0");
  assert.is(nodeImage(c, "22"), "node:22-bookworm-slim");
  for (const k of ["trivy", "dockerCli", "grafana"] as const) assert.ok(c.images[k]);
});

test("scan.fallback: debian-security by default, none allowed, anything else an error at its line", () => {
  assert.is(parseConfig(text, "ok.yaml").scan.fallback, "debian-security");
  assert.is(
    parseConfig(text.replace("fallback: debian-security", "fallback: none"), "ok.yaml").scan
      .fallback,
    "none",
  );
  const e = errorOf(text.replace("fallback: debian-security", "fallback: grype"));
  assert.is(e.key, "scan.fallback");
  assert.is(e.line, text.split("\n").findIndex((l) => l.includes("fallback: debian-security")) + 1);
  assert.match(e.message, 'expected one of debian-security, none, got "grype"');
  assert.match(
    errorOf(text.replace(/\n {2}fallback: debian-security/, "")).message,
    'scan.fallback: missing required key "fallback"',
  );
});

test("default matrix runs e2e on one Node version only", async () => {
  const cells = matrixCells(await loadConfig());
  assert.equal(
    cells.filter((c) => c.kind === "e2e").map((c) => c.node),
    ["26"],
  );
  assert.is(cells.length, 7);
  assert.equal(
    matrixCells(await loadConfig(), ["unit"]).map((c) => c.node),
    ["22", "24", "26"],
  );
});

test("include adds cells and exclude drops partial matches", () => {
  const c = parseConfig(
    text
      .replace("include: []", 'include: [{ node: "18", kind: unit }]')
      .replace(/exclude:\n(\s+- .*\n)+/, "exclude: [{ kind: integration }]\n"),
    "x.yaml",
  );
  const names = matrixCells(c).map((x) => `${x.node}/${x.kind}`);
  assert.ok(names.includes("18/unit"));
  assert.not.ok(names.some((n) => n.endsWith("/integration")));
  assert.ok(names.includes("22/e2e"));
});

test("numbers are accepted as Node versions", () => {
  assert.equal(parseConfig(text.replace('node: ["22", "24", "26"]', "node: [20, 22]"), "x").node, [
    "20",
    "22",
  ]);
});

test("an unknown key is an error at its line and column", () => {
  const e = errorOf(
    text.replace("scan:\n  enabled: true", "scan:\n  enabled: true\n  severty: [HIGH]"),
  );
  const line = text.split("\n").findIndex((l) => l.startsWith("scan:")) + 3;
  assert.is(e.line, line);
  assert.is(e.col, 3);
  assert.is(e.key, "scan.severty");
  assert.match(
    e.message,
    /^bad\.yaml:\d+:3: scan\.severty: unknown key; expected one of enabled, severity/,
  );
});

test("a wrong type names the key and what was expected, at the value's line and column", () => {
  const src = text.replace("timeoutSeconds: 180", "timeoutSeconds: soon");
  const e = errorOf(src);
  assert.is(e.key, "deploy.timeoutSeconds");
  assert.match(e.message, /expected a positive integer, got "soon"/);
  assertAt(e, posOf(src, "timeoutSeconds: soon", "soon"));
  assert.is(e.col, 19);
  // A wrong type on a line of its own, inside a nested mapping: the value, not its key or mapping.
  const flag = text.replace("ignoreUnfixed: true", "ignoreUnfixed:\n    - yes");
  const b = errorOf(flag);
  assert.is(b.key, "scan.ignoreUnfixed");
  assert.match(b.message, /expected true or false, got a list/);
  assertAt(b, posOf(flag, "    - yes", "-"));
});

test("a bad list item names its index, at the item's line and column", () => {
  const src = text.replace("kinds: [unit, integration, e2e]", "kinds: [unit, smoke]");
  const e = errorOf(src);
  assert.is(e.key, "test.kinds[1]");
  assert.match(e.message, /expected one of unit, integration, e2e, got "smoke"/);
  assertAt(e, posOf(src, "kinds: [unit, smoke]", "smoke"));
  // In a block list, the item's own line.
  const block = text.replace("tags: [version, sha, branch]", "tags:\n    - version\n    - tuesday");
  const b = errorOf(block);
  assert.is(b.key, "image.tags[1]");
  assertAt(b, posOf(block, "- tuesday", "tuesday"));
});

test("the node image template must contain {version}", () => {
  const e = errorOf(text.replace('node: "node:{version}-bookworm-slim"', 'node: "node:22"'));
  assert.is(e.key, "images.node");
  assert.match(e.message, /\{version\}/);
});

test("a missing key is an error at its mapping: the line and column where the mapping starts", () => {
  const src = text.replace(/ {2}grafana: .*\n/, "");
  const e = errorOf(src);
  assert.is(e.key, "images.grafana");
  assert.match(e.message, /missing required key "grafana"/);
  // The images mapping starts at its first key.
  assertAt(e, posOf(src, 'node: "node:{version}', "node:"));
  // A missing top-level key: the document's mapping, at its first key.
  const top = `# leading comment\n\n${text.replace(/\ncache:\n {2}npm: .*\n/, "\n")}`;
  const t = errorOf(top);
  assert.is(t.key, "cache");
  assertAt(t, posOf(top, 'node: ["22"', "node"));
});

test("invalid YAML gives the line and column of the syntax error", () => {
  const e = errorOf("node: [20, 22\nplatforms: x\n");
  assert.match(e.message, /^bad\.yaml:\d+:\d+: \(top level\): invalid YAML/);
  // Known positions away from 1:1: yaml's offset turned into line and column, not a fixed or off-by-one place.
  const src = text.replace("timeoutSeconds: 180", "timeoutSeconds: 180: 5");
  const n = errorOf(src);
  assert.is(n.key, "");
  assert.match(n.message, /invalid YAML: Nested mappings are not allowed in compact mappings/);
  assertAt(n, posOf(src, "timeoutSeconds: 180: 5", "180"));
  const nested = errorOf("a: 1\nb:\n  c: 2\n   d: 3\n");
  assertAt(nested, { line: 3, col: 6 });
});

test("a missing file names the file", async () => {
  try {
    await loadConfig("ci/nope.yaml");
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.match((e as Error).message, /^ci\/nope\.yaml:1:1: .*cannot read/);
  }
});

test("YAML aliases are read as the anchored value, scalars, lists and mappings alike", () => {
  const c = parseConfig(
    text
      .replace('node: ["22", "24", "26"]', 'node: ["22", "24", &lts "26"]')
      .replace('nodeVersion: "26"', "nodeVersion: *lts")
      .replace(
        "platforms: [linux/amd64, linux/arm64]",
        "platforms: &plat [linux/amd64, linux/arm64]",
      )
      .replace("include: []", "include: [&cell { node: *lts, kind: unit }, *cell]")
      .replace(/ {2}e2ePackages: .*\n/, "  e2ePackages: *plat_pk\n")
      .replace(/ {2}packages: (.*)\n/, "  packages: &plat_pk $1\n"),
    "x.yaml",
  );
  assert.is(c.image.nodeVersion, "26");
  assert.equal(c.test.include, [
    { node: "26", kind: "unit" },
    { node: "26", kind: "unit" },
  ]);
  assert.equal(c.test.e2ePackages, c.test.packages);
  const e = errorOf(
    text
      .replace("timeoutSeconds: 180", "timeoutSeconds: *bad")
      .replace("healthUrl:", "healthUrl: &bad"),
  );
  assert.is(e.key, "deploy.timeoutSeconds");
  assert.match(e.message, /expected a positive integer, got "http:.*" \(through alias \*bad\)/);
});

test("a duplicate key is named, at the line and column of its second use", () => {
  const scanLine = text.split("\n").findIndex((l) => l.startsWith("scan:")) + 1;
  const e = errorOf(
    text.replace("scan:\n  enabled: true", "scan:\n  enabled: true\n  enabled: false"),
  );
  assert.is(e.key, "scan.enabled");
  assert.is(e.line, scanLine + 2);
  assert.is(e.col, 3);
  assert.match(
    e.message,
    new RegExp(`scan\\.enabled: duplicate key \\(first at line ${scanLine + 1}\\)`),
  );
  const top = errorOf(`${text}cache:\n  npm: other\n`);
  assert.is(top.key, "cache");
  assert.match(top.message, /cache: duplicate key/);
});

test("a complex (non-scalar) key is reported as such, under its mapping's name", () => {
  const e = errorOf(text.replace("scan:\n", "scan:\n  ? [a, b]\n  : 1\n"));
  assert.is(e.key, "scan");
  assert.match(e.message, /scan: expected a plain key, got a list/);
  assert.not.match(e.message, /scan\.:/);
});

test("merge keys get a clear error, not a puzzling unknown key", () => {
  const e = errorOf(text.replace("deploy:\n", "deploy:\n  <<: { timeoutSeconds: 5 }\n"));
  assert.is(e.key, "deploy.<<");
  assert.match(e.message, /merge keys \(<<\) are not supported/);
});

test("an absolute --config path is shown as given", async () => {
  try {
    await loadConfig("/nonexistent-cf16/pipeline.yaml");
    assert.unreachable();
  } catch (e) {
    assert.instance(e, ConfigError);
    assert.match((e as Error).message, /^\/nonexistent-cf16\/pipeline\.yaml:1:1: .*cannot read/);
  }
});

test("a config file over 256 KiB is refused before parsing, with a clear error", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cf-config-"));
  try {
    const big = join(dir, "big.yaml");
    writeFileSync(big, text.replace("include: []", `include: []\n  # ${"x".repeat(300 * 1024)}`));
    try {
      await loadConfig(big);
      assert.unreachable();
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.match(
        (e as Error).message,
        /:1:1: \(top level\): larger than 256 KiB \(262144 bytes\)/,
      );
    }
    const ok = join(dir, "ok.yaml");
    writeFileSync(ok, text);
    assert.equal((await loadConfig(ok)).node, ["22", "24", "26"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an image reference may not start with - or hold spaces or shell syntax", () => {
  for (const key of ["prometheus", "alertmanager", "trivy", "dockerCli", "grafana"]) {
    for (const bad of ["--privileged", "-alpine:3", "alpine 3", "a;b", "Upper/Case:1"]) {
      const e = errorOf(text.replace(new RegExp(`( {2}${key}: ).*`), `$1"${bad}"`));
      assert.is(e.key, `images.${key}`, bad);
      assert.match(e.message, /expected an image reference/);
    }
  }
  assert.is(errorOf(text.replace("name: codex-father", 'name: "-x"')).key, "image.name");
  const ok = parseConfig(
    text.replace(
      /( {2}trivy: ).*/,
      `$1"registry.local:5000/aquasec/trivy:0.50.1@sha256:${"a".repeat(64)}"`,
    ),
    "x",
  );
  assert.match(ok.images.trivy, /^registry\.local:5000\//);
});

test("the node image template is an image reference with {version}", () => {
  for (const bad of [
    "--privileged {version}; rm -rf /",
    "node:{version} x",
    "-node:{version}",
    "node:{version};x",
    "node:{verison}",
  ]) {
    const e = errorOf(text.replace('node: "node:{version}-bookworm-slim"', `node: "${bad}"`));
    assert.is(e.key, "images.node", bad);
    assert.match(e.message, /image reference with "\{version\}"/, bad);
  }
  const c = parseConfig(
    text.replace(
      'node: "node:{version}-bookworm-slim"',
      'node: "mirror.local:5000/library/node:{version}-slim"',
    ),
    "x",
  );
  assert.is(nodeImage(c, "22"), "mirror.local:5000/library/node:22-slim");
});

test("an exclude entry that matches every cell, or an exclude list that drops them all, is an error", () => {
  const e = errorOf(text.replace(/exclude:\n(\s+- .*\n)+/, "exclude: [{}]\n"));
  assert.is(e.key, "test.exclude[0]");
  assert.match(e.message, /needs node or kind/);
  const all = errorOf(
    text.replace(
      /exclude:\n(\s+- .*\n)+/,
      "exclude: [{ kind: unit }, { kind: integration }, { kind: e2e }]\n",
    ),
  );
  assert.is(all.key, "test.exclude");
  assert.match(all.message, /drops every cell of the test matrix/);
});

/** Replaces `from` (which must be in the shipped config) with `to`. */
function swap(from: string | RegExp, to: string): string {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`${from} not in ci/pipeline.yaml`);
  return out;
}

test("every check refuses what it should, saying what it expected and what it got", () => {
  const cases: [string | RegExp, string, string, string][] = [
    [
      "timeoutSeconds: 180",
      "timeoutSeconds:",
      "deploy.timeoutSeconds",
      "expected a positive integer, got null",
    ],
    [
      "timeoutSeconds: 180",
      "timeoutSeconds: { a: 1 }",
      "deploy.timeoutSeconds",
      "expected a positive integer, got a mapping",
    ],
    [
      "timeoutSeconds: 180",
      "timeoutSeconds: [1]",
      "deploy.timeoutSeconds",
      "expected a positive integer, got a list",
    ],
    [
      "timeoutSeconds: 180",
      "timeoutSeconds: 0",
      "deploy.timeoutSeconds",
      "expected a positive integer, got 0",
    ],
    [
      "timeoutSeconds: 180",
      "timeoutSeconds: 1.5",
      "deploy.timeoutSeconds",
      "expected a positive integer, got 1.5",
    ],
    [
      "timeoutSeconds: 180",
      'timeoutSeconds: "5"',
      "deploy.timeoutSeconds",
      'expected a positive integer, got "5"',
    ],
    [
      "composeFile: docker/compose.yaml",
      'composeFile: ""',
      "deploy.composeFile",
      'expected a non-empty string, got ""',
    ],
    [
      "composeFile: docker/compose.yaml",
      "composeFile: 5",
      "deploy.composeFile",
      "expected a non-empty string, got 5",
    ],
    ['node: ["22", "24", "26"]', "node: []", "node", "expected a non-empty list"],
    ['node: ["22", "24", "26"]', "node: 22", "node", "expected a list, got 22"],
    [
      'node: ["22", "24", "26"]',
      'node: ["v22"]',
      "node[0]",
      'expected a Node version such as "22", got "v22"',
    ],
    [
      'node: ["22", "24", "26"]',
      'node: ["22.1.2.3"]',
      "node[0]",
      'expected a Node version such as "22", got "22.1.2.3"',
    ],
    [
      'node: ["22", "24", "26"]',
      'node: ["22.x"]',
      "node[0]",
      'expected a Node version such as "22", got "22.x"',
    ],
    [
      'node: ["22", "24", "26"]',
      'node: ["22", "x22"]',
      "node[1]",
      'expected a Node version such as "22", got "x22"',
    ],
    [
      'node: ["22", "24", "26"]',
      "node: [true]",
      "node[0]",
      'expected a Node version such as "22", got true',
    ],
    ["enabled: true", "enabled: yes", "scan.enabled", 'expected true or false, got "yes"'],
    ["enabled: true", "enabled: 1", "scan.enabled", "expected true or false, got 1"],
    ["test:\n", "test: 5\nunused:\n", "test", "expected a mapping, got 5"],
    [
      "platforms: [linux/amd64, linux/arm64]",
      "platforms: [linux]",
      "platforms[0]",
      'expected a platform such as linux/amd64, got "linux"',
    ],
    [
      "platforms: [linux/amd64, linux/arm64]",
      "platforms: [linux/amd64/]",
      "platforms[0]",
      'expected a platform such as linux/amd64, got "linux/amd64/"',
    ],
    [
      "platforms: [linux/amd64, linux/arm64]",
      'platforms: ["x linux/amd64"]',
      "platforms[0]",
      "expected a platform",
    ],
    [
      "platforms: [linux/amd64, linux/arm64]",
      'platforms: ["linux/amd64 x"]',
      "platforms[0]",
      "expected a platform",
    ],
    [
      "platforms: [linux/amd64, linux/arm64]",
      'platforms: ["linux/arm/v7 x"]',
      "platforms[0]",
      "expected a platform",
    ],
    [
      "packages: [git,",
      "packages: [Git,",
      "test.packages[0]",
      'expected a Debian package name, got "Git"',
    ],
    [
      "packages: [git,",
      "packages: [g,",
      "test.packages[0]",
      'expected a Debian package name, got "g"',
    ],
    ["packages: [git,", 'packages: ["-git",', "test.packages[0]", "expected a Debian package name"],
    [
      "packages: [git,",
      'packages: ["git;rm",',
      "test.packages[0]",
      "expected a Debian package name",
    ],
    [
      "packages: [git,",
      'packages: ["git x",',
      "test.packages[0]",
      "expected a Debian package name",
    ],
    [
      'registry: ""',
      "registry: 5",
      "build.registry",
      "expected a registry such as ghcr.io/acme (host[:port]/namespace), got 5",
    ],
    ['registry: ""', 'registry: "https://ghcr.io/acme"', "build.registry", "expected a registry"],
    ['registry: ""', 'registry: "ghcr.io/acme x"', "build.registry", "expected a registry"],
    ['registry: ""', 'registry: "x ghcr.io"', "build.registry", "expected a registry"],
    ['registry: ""', 'registry: "ghcr.io:port"', "build.registry", "expected a registry"],
    ['registry: ""', 'registry: "ghcr.io/"', "build.registry", "expected a registry"],
    [
      "insecureRegistries: []",
      'insecureRegistries: ["reg/x"]',
      "build.insecureRegistries[0]",
      'expected a registry host such as registry.local:5000, got "reg/x"',
    ],
    [
      "insecureRegistries: []",
      'insecureRegistries: ["reg:"]',
      "build.insecureRegistries[0]",
      "expected a registry host",
    ],
    [
      "insecureRegistries: []",
      'insecureRegistries: ["reg:5x"]',
      "build.insecureRegistries[0]",
      "expected a registry host",
    ],
    [
      "insecureRegistries: []",
      'insecureRegistries: [" reg"]',
      "build.insecureRegistries[0]",
      "expected a registry host",
    ],
    [
      "insecureRegistries: []",
      'insecureRegistries: [":5000"]',
      "build.insecureRegistries[0]",
      "expected a registry host",
    ],
    [
      "healthUrl: http://127.0.0.1:9090/health",
      "healthUrl: ftp://x",
      "deploy.healthUrl",
      'expected an http(s) URL, got "ftp://x"',
    ],
    [
      "healthUrl: http://127.0.0.1:9090/health",
      'healthUrl: "xhttp://a"',
      "deploy.healthUrl",
      "expected an http(s) URL",
    ],
    [
      "healthUrl: http://127.0.0.1:9090/health",
      'healthUrl: "http://a b"',
      "deploy.healthUrl",
      "expected an http(s) URL",
    ],
    ["npm: codex-ci-npm", 'npm: "-x"', "cache.npm", 'expected a volume name, got "-x"'],
    ["npm: codex-ci-npm", 'npm: "a b"', "cache.npm", "expected a volume name"],
    [
      "ignoreFile: .trivyignore",
      "ignoreFile: [a]",
      "scan.ignoreFile",
      "expected a non-empty string, got a list",
    ],
  ];
  for (const [from, to, key, message] of cases) {
    const e = errorOf(swap(from, to));
    assert.is(e.key, key, to);
    assert.ok(e.message.includes(`: ${key}: ${message}`), `${to}: ${e.message}`);
  }
});

test("what the checks accept: versions, platforms, packages, registries, URLs, volumes, empty lists", () => {
  const c = parseConfig(
    swap('node: ["22", "24", "26"]', 'node: ["22.1.3", 24, "26.0"]')
      .replace("platforms: [linux/amd64, linux/arm64]", "platforms: [linux/amd64, linux/arm/v7]")
      .replace(/packages: \[git, .*\]/, "packages: []")
      .replace(/e2ePackages: \[.*\]/, "e2ePackages: [libc6-dev, g++, lib.x]")
      .replace('registry: ""', 'registry: "registry.local:5000/a/b"')
      .replace(
        "insecureRegistries: []",
        'insecureRegistries: ["registry.local:5000", "Mirror.Local"]',
      )
      .replace("healthUrl: http://127.0.0.1:9090/health", "healthUrl: https://a")
      .replace("npm: codex-ci-npm", "npm: a.b_c-d")
      .replace(/exclude:\n(\s+- .*\n)+/, "exclude: []\n"),
    "x.yaml",
  );
  assert.equal(c.node, ["22.1.3", "24", "26.0"]);
  assert.equal(c.platforms, ["linux/amd64", "linux/arm/v7"]);
  assert.equal(c.test.packages, []);
  assert.equal(c.test.e2ePackages, ["libc6-dev", "g++", "lib.x"]);
  assert.equal(c.test.exclude, []);
  assert.is(c.build.registry, "registry.local:5000/a/b");
  assert.equal(c.build.insecureRegistries, ["registry.local:5000", "Mirror.Local"]);
  assert.is(c.deploy.healthUrl, "https://a");
  assert.is(c.cache.npm, "a.b_c-d");
  // An empty or null registry is "none here", not an error.
  assert.is(parseConfig(swap('registry: ""', "registry:"), "x").build.registry, "");
  assert.is(parseConfig(text, "x").build.registry, "");
  for (const ok of ["ghcr.io/acme", "registry.local:5000", "a:1/b", "A.b"])
    assert.ok(REGISTRY.test(ok), ok);
  for (const bad of [
    "ghcr.io/acme x",
    "x ghcr.io",
    "ghcr.io:",
    "ghcr.io:x",
    "ghcr.io/",
    "/acme",
    ":5000",
  ])
    assert.not.ok(REGISTRY.test(bad), bad);
});

test("an image reference is at most 512 characters", () => {
  assert.ok(isImageRef("a".repeat(512)));
  assert.not.ok(isImageRef("a".repeat(513)));
});

test("a config of exactly the size limit is read; one byte more is refused", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cf-config-"));
  try {
    const pad = (n: number) => `${text}#${"x".repeat(n - Buffer.byteLength(text) - 2)}\n`;
    const exact = join(dir, "exact.yaml");
    writeFileSync(exact, pad(MAX_CONFIG_BYTES));
    assert.is(readFileSync(exact).length, MAX_CONFIG_BYTES);
    assert.equal((await loadConfig(exact)).node, ["22", "24", "26"]);
    const over = join(dir, "over.yaml");
    writeFileSync(over, pad(MAX_CONFIG_BYTES + 1));
    try {
      await loadConfig(over);
      assert.unreachable();
    } catch (e) {
      assert.instance(e, ConfigError);
      assert.match((e as Error).message, /larger than 256 KiB/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("matrixCells: an include already in the matrix is not added twice; an empty selection means all kinds", () => {
  const c = parseConfig(
    swap("include: []", 'include: [{ node: "22", kind: unit }, { node: "26", kind: e2e }]'),
    "x",
  );
  const cells = matrixCells(c).map((x) => `${x.node}/${x.kind}`);
  assert.is(cells.length, 7);
  assert.is(cells.filter((n) => n === "22/unit").length, 1);
  // Same node, other kind, and same kind, other node: both new.
  const d = parseConfig(
    swap("include: []", 'include: [{ node: "22", kind: e2e }, { node: "18", kind: unit }]'),
    "x",
  );
  assert.equal(
    matrixCells(d)
      .map((x) => `${x.node}/${x.kind}`)
      .slice(-2),
    ["22/e2e", "18/unit"],
  );
  assert.is(matrixCells(c, []).length, 7);
  assert.equal(
    matrixCells(c, ["e2e"]).map((x) => x.node),
    ["26"],
  );
});

test.run();
