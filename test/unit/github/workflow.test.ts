import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse } from "yaml";
import { sdkCliVersion } from "../../../ci/doctor/tools.js";
import { lintWorkflow } from "../../../ci/stages/lint/actionlint.js";

const FILE = ".github/workflows/ci.yml";
const text = readFileSync(FILE, "utf8");

interface Step {
  uses?: string;
  run?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Job {
  permissions?: Record<string, string>;
  steps: Step[];
}
const wf = parse(text) as {
  on: Record<string, unknown>;
  permissions?: unknown;
  jobs: Record<string, Job>;
};
const jobs = Object.values(wf.jobs);
const steps = jobs.flatMap((j) => j.steps);

test("actionlint finds nothing wrong in the workflow", async () => {
  assert.equal(await lintWorkflow(text, FILE), []);
});

test("actionlint catches real mistakes in a workflow", async () => {
  const broken = {
    expression: text.replace(
      "github.event_name == 'pull_request' }}",
      "github.event_nam == 'pull_request' }}",
    ),
    permission: text.replace("security-events: write", "security-events: writ"),
    cron: text.replace('"0 2 * * *"', '"0 25 * * *"'),
    yaml: text.replace("    runs-on: ubuntu-24.04", "  runs-on: [ubuntu-24.04"),
  };
  for (const [what, variant] of Object.entries(broken)) {
    assert.is.not(variant, text, `${what}: the mutation must change the file`);
    const problems = await lintWorkflow(variant, FILE);
    assert.ok(problems.length > 0, `${what}: expected a problem`);
    assert.ok(problems[0] && problems[0].line > 0 && problems[0].file === FILE, `${what}: located`);
  }
});

test("actionlint CLI: exit 0 clean, 1 with file:line:col problems, 2 on an unreadable file", () => {
  const dir = mkdtempSync(join(tmpdir(), "actionlint-"));
  const bad = join(dir, "bad.yml");
  writeFileSync(
    bad,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template.
    "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.evnt }}\n",
  );
  const cli = (file: string) =>
    spawnSync(process.execPath, ["--import", "tsx", "ci/stages/lint/actionlint.ts", file], {
      encoding: "utf8",
    });
  try {
    assert.is(cli(FILE).status, 0);
    const r = cli(bad);
    assert.is(r.status, 1);
    assert.match(r.stderr, `${bad}:6:`);
    assert.match(r.stderr, /"evnt" is not defined/);
    const missing = cli(join(dir, "nope.yml"));
    assert.is(missing.status, 2);
    assert.match(missing.stderr, /nope\.yml/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("runs on push, pull request, schedule and release", () => {
  for (const event of ["push", "pull_request", "schedule", "release"])
    assert.ok(event in wf.on, event);
});

test("one job whose real work is one dagger run step at the SDK's CLI version", async () => {
  assert.is(jobs.length, 1);
  const dagger = steps.filter((s) => s.uses?.startsWith("dagger/dagger-for-github@"));
  assert.is(dagger.length, 1);
  const step = dagger[0] as Step;
  assert.match(step.uses ?? "", /^dagger\/dagger-for-github@v8\.4\.\d+$/);
  assert.is(step.with?.verb, "run");
  assert.is(step.with?.args, "npx tsx ci/main.ts");
  assert.is(step.with?.version, await sdkCliVersion());
  // Besides it, only checkout, setup-node, npm ci and the SARIF upload.
  const others = steps.filter((s) => s !== step).map((s) => s.uses?.split("@")[0] ?? s.run);
  assert.equal(others, [
    "actions/checkout",
    "actions/setup-node",
    "npm ci",
    "github/codeql-action/upload-sarif",
  ]);
});

test("every action is pinned to a full version or a commit", () => {
  for (const s of steps.filter((x) => x.uses))
    assert.match(s.uses ?? "", /@(v\d+\.\d+\.\d+|[0-9a-f]{40})$/, `${s.uses} is not pinned`);
});

test("least privilege: nothing by default, security-events: write only beside the SARIF upload", () => {
  assert.equal(wf.permissions, {});
  for (const job of jobs) {
    const uploads = job.steps.some((s) => s.uses?.startsWith("github/codeql-action/upload-sarif@"));
    const perms = job.permissions ?? {};
    assert.is(perms["security-events"] === "write", uploads);
    const writes = Object.entries(perms).filter(
      ([k, v]) => v === "write" && k !== "security-events",
    );
    assert.equal(writes, []);
  }
});

test("SARIF from reports/ is uploaded even when the pipeline failed", () => {
  const upload = steps.find((s) =>
    s.uses?.startsWith("github/codeql-action/upload-sarif@"),
  ) as Step;
  assert.match(String(upload.with?.sarif_file), /^reports\//);
  assert.match(upload.if ?? "", /always\(\)/);
  assert.match(upload.if ?? "", /hashFiles\('reports\//);
});

test.run();
