import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { setWriter } from "../../../ci/lib/log.js";
import { main } from "../../../ci/main.js";
import { selectStages, waves } from "../../../ci/plan.js";
import { runMain } from "../../helpers/ci-main.js";

const names = (s: ReturnType<typeof selectStages>) => s.map((x) => x.stage);

test("all stages by default, dependencies first", () => {
  const s = selectStages([], []);
  assert.equal(names(s), ["lint", "test", "build", "scan", "deploy"]);
  assert.equal(s.find((x) => x.stage === "deploy")?.needs, ["build", "scan", "test"]);
  assert.equal(waves(s), [["lint", "test", "build"], ["scan"], ["deploy"]]);
});

test("named stages pull in what they need", () => {
  const s = selectStages(["scan"], []);
  assert.equal(names(s), ["build", "scan"]);
  assert.is(s[0]?.pulledInBy, "scan");
  assert.equal(names(selectStages(["deploy"], [])), ["test", "build", "scan", "deploy"]);
  assert.equal(names(selectStages(["test", "lint"], [])), ["lint", "test"]);
});

test("--skip removes a stage and its edge", () => {
  const s = selectStages(["deploy"], ["scan"]);
  assert.equal(names(s), ["test", "build", "deploy"]);
  assert.equal(s.at(-1)?.needs, ["build", "test"]);
  assert.equal(waves(s), [["test", "build"], ["deploy"]]);
});

test("deploy --down needs nothing: it runs alone, whatever the other stages would do", () => {
  const down = { only: [], failFast: false, push: false, down: true, volumes: false };
  assert.equal(names(selectStages(["deploy"], [], down)), ["deploy"]);
  assert.equal(selectStages(["deploy"], [], down)[0]?.needs, []);
  assert.equal(names(selectStages(["deploy"], [], { ...down, down: false })), [
    "test",
    "build",
    "scan",
    "deploy",
  ]);
});

test("--plan prints waves, dependencies and containers without running anything", async () => {
  let out = "";
  setWriter((t) => {
    out += t;
  });
  try {
    const code = await main([
      "lint",
      "test",
      "--plan",
      "--node",
      "22",
      "--only",
      "unit,e2e",
      "--engine",
      "docker",
    ]);
    assert.is(code, 0);
  } finally {
    setWriter((t) => process.stdout.write(t));
  }
  assert.match(out, /wave 1 \(in parallel\): lint, test\n/);
  assert.match(
    out,
    /test \(no dependencies\)\n {2}node22\/unit: node:22-bookworm-slim( \(offline stand-in: [^)]*\))?\n {4}\$ apt-get update -qq\n {4}\$ DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends git openssl prometheus prometheus-alertmanager docker-compose\n {4}\$ npm ci --prefer-offline\n {4}\$ npm run --silent test:unit\n/,
  );
  // e2e runs on Node 26 only by default, so --node 22 leaves no e2e cell.
  assert.not.match(out, /e2e/);
  assert.match(out, /lint \(no dependencies\)\n {2}node: node:26-bookworm-slim\n/);
});

// In-process through main() and failure(), as the entry point runs them; the Dagger test below is the real process.
test("usage and config errors exit 2 with a message", async () => {
  const usage = await runMain(["--engine", "podman"]);
  assert.is(usage.status, 2);
  assert.match(usage.stderr, /--engine: unknown value "podman"/);
  const config = await runMain(["--config", "ci/missing.yaml", "--plan"]);
  assert.is(config.status, 2);
  assert.match(config.stderr, /ci\/missing\.yaml:1:1/);
  const help = await runMain(["--help"]);
  assert.is(help.status, 0);
  assert.match(help.stdout, /--engine dagger\|docker\|auto/);
});

test("without a Dagger session or CLI, --engine dagger fails with what to do and downloads nothing", () => {
  // The SDK would download its CLI into $XDG_CACHE_HOME/dagger: an empty cache afterwards proves it never tried.
  const cache = mkdtempSync(join(tmpdir(), "dagger-cache-"));
  const env: NodeJS.ProcessEnv = { ...process.env, PATH: "/usr/bin:/bin", XDG_CACHE_HOME: cache };
  delete env.DAGGER_SESSION_PORT;
  delete env._EXPERIMENTAL_DAGGER_CLI_BIN;
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "ci/main.ts", "lint", "--engine", "dagger"],
    { encoding: "utf8", env },
  );
  const cached = readdirSync(cache);
  rmSync(cache, { recursive: true, force: true });
  assert.is(r.status, 2);
  assert.match(r.stderr, /Install the Dagger CLI/);
  assert.match(r.stderr, /--engine docker/);
  assert.equal(cached, []);
});

test.run();
