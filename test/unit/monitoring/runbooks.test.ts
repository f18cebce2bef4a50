/** Every alert links to its section of docs/runbooks.md, and the absent() rule watches the job Prometheus scrapes. */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse } from "yaml";

const ALERTS = "docker/prometheus/alerts.yml";
const RUNBOOKS = "docs/runbooks.md";
const alertsText = readFileSync(ALERTS, "utf8");
const runbooksText = readFileSync(RUNBOOKS, "utf8");

interface Rule {
  alert?: string;
  expr?: string;
  annotations?: Record<string, string>;
}
const rulesOf = (text: string): Rule[] =>
  (parse(text) as { groups: { rules: Rule[] }[] }).groups.flatMap((g) => g.rules);

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");

/** The `## ` sections of a Markdown file by anchor, with their text. */
function sections(markdown: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const part of markdown.split(/^## /m).slice(1)) {
    const [heading = "", ...body] = part.split("\n");
    map.set(slug(heading), body.join("\n"));
  }
  return map;
}

/** Alerts without a runbook_url into docs/runbooks.md, or whose anchor has no section with all three parts. */
function runbookProblems(alerts: string, runbooks: string): string[] {
  const known = sections(runbooks);
  const problems: string[] = [];
  for (const r of rulesOf(alerts).filter((x) => x.alert)) {
    const url = r.annotations?.runbook_url;
    const anchor = /^docs\/runbooks\.md#([\w-]+)$/.exec(url ?? "")?.[1];
    if (!anchor) {
      problems.push(`${r.alert}: runbook_url ${url ?? "missing"}`);
      continue;
    }
    const body = known.get(anchor);
    if (body === undefined) problems.push(`${r.alert}: no section #${anchor} in ${RUNBOOKS}`);
    else
      for (const part of ["**Means.**", "**Look at.**", "**Do.**"])
        if (!body.includes(part)) problems.push(`${r.alert}: section #${anchor} lacks ${part}`);
  }
  return problems;
}

test("every alert has a runbook_url whose section exists and says what, where and how", () => {
  assert.equal(runbookProblems(alertsText, runbooksText), []);
  // One section per alert, named after it: nothing stale, nothing missing.
  const alerts = rulesOf(alertsText).flatMap((r) => (r.alert ? [r.alert.toLowerCase()] : []));
  assert.equal([...sections(runbooksText).keys()].sort(), [...alerts].sort());
  assert.ok(alerts.length >= 13);
});

test("the check names a missing link, a dead anchor and a section without its parts", () => {
  const noLink = alertsText.replace(/\n\s+runbook_url: docs\/runbooks\.md#servicedown/, "");
  assert.equal(runbookProblems(noLink, runbooksText), ["ServiceDown: runbook_url missing"]);
  const dead = alertsText.replace("#mcpslowresponse", "#mcp-slow");
  assert.equal(runbookProblems(dead, runbooksText), [
    "MCPSlowResponse: no section #mcp-slow in docs/runbooks.md",
  ]);
  const renamed = runbooksText.replace("## GitHighFailureRate", "## Git failures");
  assert.equal(runbookProblems(alertsText, renamed), [
    "GitHighFailureRate: no section #githighfailurerate in docs/runbooks.md",
  ]);
  const thin = runbooksText.replace(/(## TaskQueueBacklog[\s\S]*?)\*\*Do\.\*\*/, "$1Then:");
  assert.equal(runbookProblems(alertsText, thin), [
    "TaskQueueBacklog: section #taskqueuebacklog lacks **Do.**",
  ]);
});

test("absent() watches the job name Prometheus really scrapes", () => {
  const prometheus = parse(readFileSync("docker/prometheus/prometheus.yml", "utf8")) as {
    scrape_configs: { job_name: string }[];
  };
  const job = prometheus.scrape_configs.map((s) => s.job_name).find((j) => j !== "prometheus");
  assert.is(job, "codex-father");
  const absent = rulesOf(alertsText).find((r) => r.expr?.startsWith("absent("));
  assert.is(absent?.alert, "ServiceAbsent");
  assert.is(absent?.expr, `absent(up{job="${job}"})`);
});

test.run();
