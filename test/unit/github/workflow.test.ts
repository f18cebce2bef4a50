import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse } from "yaml";
import { loadConfig } from "../../../ci/config.js";
import { sdkCliVersion } from "../../../ci/doctor/tools.js";
import { lintWorkflow, main } from "../../../ci/stages/lint/actionlint.js";

const FILE = ".github/workflows/ci.yml";
const text = readFileSync(FILE, "utf8");

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
  with?: Record<string, unknown>;
}
interface Job {
  if?: string;
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
/** A GitHub expression as the workflow spells it. */
const expr = (body: string) => ["$", "{{ ", body, " }}"].join("");
const PUBLISHING =
  "github.event_name == 'release' || (github.event_name == 'push' && github.ref == 'refs/heads/main' && vars.CODEX_PUBLISH_MAIN == 'true')";
/** A job's `if:` on one line. */
const condition = (job?: Job) => (job?.if ?? "").replace(/\s+/g, " ").trim();
/** The dagger step of a job. */
const daggerStep = (job?: Job) =>
  job?.steps.find((s) => s.uses?.startsWith("dagger/dagger-for-github@")) as Step;

test("actionlint finds nothing wrong in the workflow", async () => {
  assert.equal(await lintWorkflow(text, FILE), []);
});

test("actionlint catches real mistakes in a workflow: each the injected one, at its line", async () => {
  /** The 1-based line of the first occurrence of `what` in `src`. */
  const lineOf = (src: string, what: string) => src.slice(0, src.indexOf(what)).split("\n").length;
  const cases: { what: string; from: string; to: string; kind: string; message: RegExp }[] = [
    {
      what: "expression",
      from: "github.event_name == 'pull_request' }}",
      to: "github.event_nam == 'pull_request' }}",
      kind: "expression",
      message: /property "event_nam" is not defined/,
    },
    {
      what: "permission",
      from: "security-events: write",
      to: "security-events: writ",
      kind: "permissions",
      message: /"writ" is invalid for permission of scope "security-events"/,
    },
    {
      what: "cron",
      from: '"0 2 * * *"',
      to: '"0 25 * * *"',
      kind: "events",
      message: /invalid CRON format "0 25 \* \* \*"/,
    },
    {
      what: "yaml",
      from: "    runs-on: ubuntu-24.04",
      to: "  runs-on: [ubuntu-24.04",
      kind: "syntax-check",
      message: /could not parse as YAML: .*did not find expected ',' or ']'/,
    },
  ];
  for (const c of cases) {
    const variant = text.replace(c.from, c.to);
    assert.is.not(variant, text, `${c.what}: the mutation must change the file`);
    const at = lineOf(variant, c.to);
    const problems = await lintWorkflow(variant, FILE);
    // The clean file has none (test above): exactly one problem, and it is the one put in.
    assert.is(problems.length, 1, `${c.what}: ${JSON.stringify(problems)}`);
    const p = problems[0];
    assert.is(p?.file, FILE);
    assert.is(p?.kind, c.kind, c.what);
    assert.match(p?.message ?? "", c.message, c.what);
    // YAML's parser names the line where the unclosed flow sequence began to fail: the one before, at most.
    if (c.kind === "syntax-check")
      assert.ok(p && p.line >= at - 1 && p.line <= at, `${c.what}: line ${p?.line}, changed ${at}`);
    else assert.is(p?.line, at, c.what);
  }
});

test("actionlint CLI: exit 0 clean, 1 with file:line:col problems, 2 on an unreadable file", async () => {
  const dir = mkdtempSync(join(tmpdir(), "actionlint-"));
  const bad = join(dir, "bad.yml");
  writeFileSync(
    bad,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub expression, not a template.
    "on: push\njobs:\n  a:\n    runs-on: ubuntu-24.04\n    steps:\n      - run: echo ${{ github.evnt }}\n",
  );
  // The bad and the clean file in-process; the missing file through a real process (exit code, stderr),
  // the case that does not load actionlint's 9 MB of WebAssembly a second time.
  const inProcess = async (file: string) => {
    let stderr = "";
    const status = await main([file], {
      out: () => {},
      err: (line) => {
        stderr += `${line}\n`;
      },
    });
    return { status, stderr };
  };
  try {
    assert.is((await inProcess(FILE)).status, 0);
    const r = await inProcess(bad);
    assert.is(r.status, 1);
    assert.match(r.stderr, `${bad}:6:`);
    assert.match(r.stderr, /"evnt" is not defined/);
    const missing = spawnSync(
      process.execPath,
      ["--import", "tsx", "ci/stages/lint/actionlint.ts", join(dir, "nope.yml")],
      { encoding: "utf8" },
    );
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

test("two jobs, one for publishing events: each's real work is one dagger run step at the SDK's CLI version", async () => {
  assert.equal(Object.keys(wf.jobs), ["pipeline", "publish"]);
  for (const job of jobs) {
    const dagger = job.steps.filter((s) => s.uses?.startsWith("dagger/dagger-for-github@"));
    assert.is(dagger.length, 1);
    const step = dagger[0] as Step;
    assert.is(step.with?.verb, "run");
    assert.is(step.with?.version, await sdkCliVersion());
    // Warm CI for those who have a Dagger Cloud token; an unset secret is an empty input, which does nothing.
    assert.is(step.with?.["cloud-token"], expr("secrets.DAGGER_CLOUD_TOKEN"));
    // Besides it: checkout, qemu for arm64 (the e2e daemon and the build need binfmt), Node, npm ci, SARIF.
    const others = job.steps.filter((s) => s !== step).map((s) => s.uses?.split("@")[0] ?? s.run);
    assert.equal(others, [
      "actions/checkout",
      "docker/setup-qemu-action",
      "actions/setup-node",
      "npm ci",
      "github/codeql-action/upload-sarif",
    ]);
  }
  assert.match(tagOf("dagger/dagger-for-github") ?? "", /^v8\.4\.\d+$/);
  assert.is(daggerStep(wf.jobs.pipeline).with?.args, "npx tsx ci/main.ts");
});

test("releases (and main pushes when CODEX_PUBLISH_MAIN is true) publish to ghcr.io with the job's token; nothing else does", () => {
  const publish = wf.jobs.publish;
  assert.is(condition(publish), PUBLISHING);
  assert.is(condition(wf.jobs.pipeline), `!(${PUBLISHING})`, "the two jobs never both run");
  const step = daggerStep(publish);
  assert.is(
    step.with?.args,
    `npx tsx ci/main.ts --push --registry ghcr.io/${expr("github.repository_owner")}`,
  );
  assert.equal(step.env, {
    CODEX_REGISTRY_USERNAME: expr("github.actor"),
    CODEX_REGISTRY_PASSWORD: expr("secrets.GITHUB_TOKEN"),
  });
  assert.is(publish?.permissions?.packages, "write");
  assert.is(wf.jobs.pipeline?.permissions?.packages, undefined);
  assert.not.ok(daggerStep(wf.jobs.pipeline).env, "the pipeline job gets no registry credentials");
  const qemu = publish?.steps.find((s) => s.uses?.startsWith("docker/setup-qemu-action@"));
  assert.equal(qemu?.with, { platforms: "arm64" });
});

/**
 * Every `uses:` line of a workflow that is not pinned: a remote action must name a full commit SHA with
 * its release tag in a comment (`owner/repo@<40 hex> # v1.2.3`, the form Dependabot keeps up to date), a
 * `docker://` image a digest. Local actions (`./…`) are the repo's own code.
 */
function unpinnedUses(workflow: string): string[] {
  return usesLines(workflow)
    .filter(
      ({ ref }) =>
        !/^\.\//.test(ref) &&
        !/^docker:\/\/[^@\s]+@sha256:[0-9a-f]{64}$/.test(ref) &&
        !/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}\s+#\s*v\d+(\.\d+){0,2}$/.test(ref),
    )
    .map(({ line, ref }) => `${line}: ${ref}`);
}

/** Every `uses:` line with its 1-based number and its value (quotes dropped, comment kept). */
function usesLines(workflow: string): { line: number; ref: string }[] {
  return workflow.split("\n").flatMap((l, i) => {
    const m = /^\s*(?:-\s+)?uses:\s*(.*)$/.exec(l);
    return m ? [{ line: i + 1, ref: (m[1] ?? "").trim().replace(/^(["'])(.*?)\1/, "$2") }] : [];
  });
}

/** The tag comment of the `uses:` line naming `action@`. */
const tagOf = (action: string) =>
  new RegExp(`uses:\\s*${action.replace(/[/.]/g, "\\$&")}@[0-9a-f]{40}\\s+#\\s*(\\S+)`).exec(
    text,
  )?.[1];

test("every workflow's actions are pinned to a commit SHA with the tag in a comment", () => {
  const dir = ".github/workflows";
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.includes("ci.yml"));
  for (const f of files) assert.equal(unpinnedUses(readFileSync(join(dir, f), "utf8")), [], f);
  // The line scan sees the same steps as the YAML parser.
  assert.is(usesLines(text).length, steps.filter((s) => s.uses).length);
});

test("the pin check rejects tags, branches, short SHAs and a SHA without its tag", () => {
  const sha = "08c6903cd8c0fde910a37f88322edcfb5dd907a8";
  const line = (ref: string) => `      - uses: ${ref}\n`;
  for (const ref of [
    "actions/checkout@v5",
    "actions/checkout@v5.0.0",
    "actions/checkout@main",
    "actions/checkout@08c6903",
    `actions/checkout@${sha}`,
    `actions/checkout@${sha} # latest`,
    "docker://alpine:3.20",
  ])
    assert.equal(unpinnedUses(line(ref)).length, 1, ref);
  for (const ref of [`actions/checkout@${sha} # v5.0.0`, "./.github/actions/local"])
    assert.equal(unpinnedUses(line(ref)), [], ref);
  // The committed workflow with one step moved back to a tag fails, at that line.
  const injected = text.replace(
    /uses: actions\/checkout@\S+ # v5\.0\.0/,
    "uses: actions/checkout@v5",
  );
  assert.is.not(injected, text);
  const checkoutLine = text.split("\n").findIndex((l) => l.includes("actions/checkout@")) + 1;
  assert.equal(unpinnedUses(injected), [`${checkoutLine}: actions/checkout@v5`]);
});

test("least privilege: nothing by default, security-events: write only beside the SARIF upload, packages: write only to publish", () => {
  assert.equal(wf.permissions, {});
  for (const [name, job] of Object.entries(wf.jobs)) {
    const uploads = job.steps.some((s) => s.uses?.startsWith("github/codeql-action/upload-sarif@"));
    const perms = job.permissions ?? {};
    assert.is(perms["security-events"] === "write", uploads);
    const writes = Object.entries(perms)
      .filter(([k, v]) => v === "write" && k !== "security-events")
      .map(([k]) => k);
    assert.equal(writes, name === "publish" ? ["packages"] : [], name);
  }
});

test("the runner's Node is the image's (image.nodeVersion), a supported line", async () => {
  const setupNode = steps.find((s) => s.uses?.startsWith("actions/setup-node@")) as Step;
  const config = await loadConfig();
  assert.is(String(setupNode.with?.["node-version"]), config.image.nodeVersion);
  assert.ok(config.node.includes(config.image.nodeVersion), "the image's Node is in the matrix");
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
