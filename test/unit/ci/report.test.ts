import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  markdownTable,
  type RunReport,
  textTable,
  writeJson,
  writeStepSummary,
} from "../../../ci/report.js";

const report: RunReport = {
  runId: "r1",
  engine: "docker",
  status: "failed",
  durationMs: 65_000,
  stages: [
    {
      stage: "test",
      status: "failed",
      durationMs: 64_000,
      detail: "1 of 2 cells failed: node22/unit",
      cells: [
        { name: "node20/unit", status: "passed", durationMs: 30_000 },
        {
          name: "node22/unit",
          status: "failed",
          durationMs: 64_000,
          detail: 'step "test:unit" | exit 1',
        },
      ],
    },
    {
      stage: "scan",
      status: "skipped",
      durationMs: 0,
      detail: "--skip",
      markdown: "#### scan\nextra",
    },
  ],
};

test("the text table has a row per stage and cell with status and time", () => {
  const lines = textTable(report).trimEnd().split("\n");
  assert.match(lines[0] ?? "", /^stage\s+status\s+time\s+detail$/);
  assert.match(lines[1] ?? "", /^test\s+✘ failed\s+1m04s\s+1 of 2 cells failed: node22\/unit$/);
  assert.match(lines[2] ?? "", /^ {2}test node20\/unit\s+✔ passed\s+30\.0s$/);
  assert.match(lines[4] ?? "", /^scan\s+– skipped\s+0\.0s\s+--skip$/);
  assert.is(lines.at(-1), "FAILED in 1m05s (engine docker)");
});

test("GITHUB_STEP_SUMMARY gets the same table as Markdown, cells escaped, stage Markdown after", async () => {
  const dir = mkdtempSync(join(tmpdir(), "summary-"));
  const file = join(dir, "summary.md");
  await writeStepSummary(report, file);
  const md = readFileSync(file, "utf8");
  rmSync(dir, { recursive: true, force: true });
  assert.is(md, markdownTable(report));
  assert.match(md, /\| test node22\/unit \| ✘ failed \| 1m04s \| step "test:unit" \\\| exit 1 \|/);
  assert.match(md, /\n#### scan\nextra\n$/);
});

test("a multi-line error stays one summary row in the table and the Markdown; --json keeps it whole", async () => {
  const detail =
    "service docker (docker:28-dind) did not get ready (docker info): exit 1\nlevel=error msg=boom\nfailed to start daemon";
  const multi: RunReport = {
    ...report,
    stages: [
      {
        stage: "deploy",
        status: "failed",
        durationMs: 2_000,
        detail,
        cells: [{ name: "up", status: "failed", durationMs: 1_000, detail: "a\nb" }],
      },
    ],
  };
  const lines = textTable(multi).trimEnd().split("\n");
  // Header, the stage, its cell, the verdict: nothing of the second and third lines breaks into the table.
  assert.is(lines.length, 4, lines.join("\n"));
  assert.match(lines[1] ?? "", /^deploy\s+✘ failed\s+2\.0s\s+service docker .*exit 1 …$/);
  assert.match(lines[2] ?? "", /^ {2}deploy up\s+✘ failed\s+1\.0s\s+a …$/);
  assert.not.match(textTable(multi), /boom/);
  const md = markdownTable(multi).split("\n");
  const row = md.filter((l) => l.startsWith("| deploy |"));
  assert.is(row.length, 1);
  assert.match(row[0] ?? "", /exit 1 … \|$/);
  assert.not.match(markdownTable(multi), /boom/);
  const dir = mkdtempSync(join(tmpdir(), "report-"));
  await writeJson(multi, join(dir, "report.json"));
  const json = JSON.parse(readFileSync(join(dir, "report.json"), "utf8"));
  rmSync(dir, { recursive: true, force: true });
  assert.is(json.stages[0].detail, detail);
});

test.run();
