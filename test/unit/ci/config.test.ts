import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  ConfigError,
  loadConfig,
  matrixCells,
  nodeImage,
  parseConfig,
} from "../../../ci/config.js";

const text = readFileSync("ci/pipeline.yaml", "utf8");

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

test("a wrong type names the key and what was expected", () => {
  const e = errorOf(text.replace("timeoutSeconds: 180", "timeoutSeconds: soon"));
  assert.is(e.key, "deploy.timeoutSeconds");
  assert.match(e.message, /expected a positive integer, got "soon"/);
  assert.is(e.col, 19);
});

test("a bad list item names its index", () => {
  const e = errorOf(text.replace("kinds: [unit, integration, e2e]", "kinds: [unit, smoke]"));
  assert.is(e.key, "test.kinds[1]");
  assert.match(e.message, /expected one of unit, integration, e2e, got "smoke"/);
});

test("the node image template must contain {version}", () => {
  const e = errorOf(text.replace('node: "node:{version}-bookworm-slim"', 'node: "node:22"'));
  assert.is(e.key, "images.node");
  assert.match(e.message, /\{version\}/);
});

test("a missing key is an error at its mapping", () => {
  const e = errorOf(text.replace(/ {2}grafana: .*\n/, ""));
  assert.is(e.key, "images.grafana");
  assert.match(e.message, /missing required key "grafana"/);
});

test("invalid YAML gives the position of the syntax error", () => {
  const e = errorOf("node: [20, 22\nplatforms: x\n");
  assert.match(e.message, /^bad\.yaml:\d+:\d+: \(top level\): invalid YAML/);
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

test.run();
