/** The dashboard check with the real promtool, and its CLI. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";

const test = suite("dashboard check (promtool)");
const dir = mkdtempSync(join(tmpdir(), "codex-dashboard-it-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const FILE = "docker/grafana/dashboards/codex-father.json";

/** Runs the CLI. */
function cli(...args: string[]) {
  return spawnSync(process.execPath, ["--import", "tsx", "ci/stages/lint/dashboard.ts", ...args], {
    encoding: "utf8",
  });
}

test("the committed dashboard passes: valid PromQL, contract metrics only", () => {
  const r = cli();
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, "codex-father.json ok");
});

test("a syntax error and a design-era metric are each reported against their panel, exit 1", () => {
  const d = JSON.parse(readFileSync(FILE, "utf8"));
  d.panels[1].targets[0].expr = "rate(process_cpu_seconds_total[5m]";
  d.panels[2].targets[0].expr = "codex_completed_tasks_total / codex_failed_tasks_total";
  const bad = join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify(d));
  const r = cli(bad);
  assert.is(r.status, 1);
  assert.match(
    r.stderr,
    /invalid PromQL: .*panel 2 \\?"Resource Usage\\?" query A.*unclosed left parenthesis/,
  );
  assert.match(
    r.stderr,
    /panel 3 "Task Success Rate" query A: unknown metric codex_completed_tasks_total/,
  );
});

test("metrics can be checked against a real scrape instead of the contract", () => {
  const scrape = join(dir, "scrape.txt");
  writeFileSync(scrape, '# TYPE codex_sessions gauge\ncodex_sessions{state="running"} 1\n');
  const r = cli("--metrics", scrape);
  assert.is(r.status, 1);
  assert.match(r.stderr, /unknown metric codex_tasks_finished_total/);
});

test("unreadable input exits 2 with the reason", () => {
  const r = cli("--contract", join(dir, "missing.md"));
  assert.is(r.status, 2);
  assert.match(r.stderr, /missing\.md/);
});

test.run();
