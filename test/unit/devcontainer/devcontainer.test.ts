import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig, nodeImage } from "../../../ci/config.js";
import { sdkCliVersion } from "../../../ci/doctor/tools.js";
import { lintDevcontainer } from "./lint.js";

const FILE = ".devcontainer/devcontainer.json";
const { config, problems } = lintDevcontainer(FILE);
const dockerfile = readFileSync(".devcontainer/Dockerfile", "utf8");

test("devcontainer.json parses as JSONC and every file it names exists", () => {
  assert.equal(problems, []);
  assert.ok(readFileSync(FILE, "utf8").includes("//"), "it does use comments");
});

test("the lint catches a syntax error and a missing Dockerfile", () => {
  const dir = mkdtempSync(join(tmpdir(), "devcontainer-"));
  try {
    mkdirSync(join(dir, ".devcontainer"));
    const file = join(dir, ".devcontainer", "devcontainer.json");
    writeFileSync(
      file,
      readFileSync(FILE, "utf8").replace('"postCreateCommand"', '"postCreateCommand" :: '),
    );
    assert.match(lintDevcontainer(file).problems.join("\n"), /devcontainer\.json:\d+:\d+: /);
    copyFileSync(FILE, file);
    assert.match(
      lintDevcontainer(file).problems.join("\n"),
      /references Dockerfile, which does not exist/,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("starts from the pipeline's node image and pins the Dagger CLI to the SDK's version", async () => {
  const pipeline = await loadConfig();
  const args = config.build?.args ?? {};
  // Spelled out in the FROM line (no build arg), the only form Dependabot's docker updater reads.
  const from = /^FROM (\S+)/m.exec(dockerfile)?.[1] ?? "";
  assert.is(from, nodeImage(pipeline, pipeline.image.nodeVersion));
  assert.is(args.DAGGER_VERSION, await sdkCliVersion());
  assert.match(dockerfile, /DAGGER_VERSION="\$\{DAGGER_VERSION\}"/);
});

test("standard features, forwarded ports with labels, npm ci after create", () => {
  const features = Object.keys(config.features ?? {}).map((f) =>
    f.replace(/^ghcr\.io\/devcontainers\/features\/|:\d+$/g, ""),
  );
  assert.equal(features.sort(), ["docker-outside-of-docker", "git", "github-cli", "node"]);
  assert.equal(config.forwardPorts, [3000, 9090, 3001]);
  for (const port of ["3000", "9090", "3001"])
    assert.ok(config.portsAttributes?.[port]?.label, `label for ${port}`);
  assert.is(config.postCreateCommand, "npm ci");
});

test.run();
