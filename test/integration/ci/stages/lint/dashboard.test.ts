/** The dashboard check with the real promtool, and its CLI. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { main } from "../../../../../ci/stages/lint/dashboard.js";

const test = suite("dashboard check (promtool)");
const dir = mkdtempSync(join(tmpdir(), "codex-dashboard-it-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const FILE = "docker/grafana/dashboards/codex-father.json";

/** Runs the CLI's main() in this process (saves a process start per case; the last test spawns the real CLI). */
function cli(...args: string[]) {
  let stdout = "";
  let stderr = "";
  const status = main(args, {
    out: (line) => {
      stdout += `${line}\n`;
    },
    err: (line) => {
      stderr += `${line}\n`;
    },
  });
  return { status, stdout, stderr };
}

test("the committed dashboard passes: valid PromQL, contract metrics only", () => {
  const r = cli();
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, "codex-father.json ok");
});

/** The committed dashboard with `edit` applied, written to a temporary file. */
function edited(name: string, edit: (d: Dashboard) => void): string {
  const d = JSON.parse(readFileSync(FILE, "utf8")) as Dashboard;
  edit(d);
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(d));
  return file;
}
interface Panel {
  title: string;
  type: string;
  datasource: { uid: string };
  targets: { expr: string; datasource: { uid: string } }[];
  fieldConfig: { defaults: { unit?: string } };
}
type Dashboard = { panels: Panel[] };
const panel = (d: Dashboard, title: string) => d.panels.find((p) => p.title === title) as Panel;

test("a syntax error and a design-era metric are each reported against their panel, exit 1", () => {
  const bad = edited("bad.json", (d) => {
    (panel(d, "CPU").targets[0] as Panel["targets"][0]).expr = "rate(process_cpu_seconds_total[5m]";
    (panel(d, "Task Success Rate").targets[0] as Panel["targets"][0]).expr =
      "codex_completed_tasks_total / codex_failed_tasks_total";
  });
  const r = cli(bad);
  assert.is(r.status, 1);
  assert.match(
    r.stderr,
    /invalid PromQL: .*panel 2 \\?"CPU\\?" query A.*unclosed left parenthesis/,
  );
  assert.match(
    r.stderr,
    /panel 3 "Task Success Rate" query A: unknown metric codex_completed_tasks_total/,
  );
});

test("the issue's dashboard mistakes each fail the CLI, naming panel and query", () => {
  // Each case: the edit, the message, and how many problems (the memory panel's two byte queries both turn short).
  const cases: [string, (d: Dashboard) => void, RegExp, number][] = [
    [
      "fixed-uid.json",
      (d) => {
        panel(d, "Memory").datasource.uid = "prometheus";
      },
      /panel 9 "Memory": fixed datasource "prometheus"; use a datasource variable/,
      1,
    ],
    [
      "short-bytes.json",
      (d) => {
        const memory = panel(d, "Memory");
        (memory.targets[0] as Panel["targets"][0]).expr =
          'process_resident_memory_bytes{job="codex-father"} / 1024 / 1024';
        memory.fieldConfig.defaults.unit = "short";
      },
      /panel 9 "Memory" query A: process_resident_memory_bytes shown with unit "short"; use "bytes"/,
      2,
    ],
    [
      "range-series.json",
      (d) => {
        panel(d, "Exporter Input Errors").type = "timeseries";
      },
      /panel 8 "Exporter Input Errors" query A: a total over \$__range in a timeseries panel/,
      1,
    ],
  ];
  for (const [name, edit, message, count] of cases) {
    const r = cli(edited(name, edit));
    assert.is(r.status, 1, name);
    assert.match(r.stderr, message, name);
    assert.is(r.stderr.trim().split("\n").length, count, `${name}: only that problem\n${r.stderr}`);
  }
});

test("metrics can be checked against a real scrape instead of the contract", () => {
  const scrape = join(dir, "scrape.txt");
  writeFileSync(scrape, '# TYPE codex_sessions gauge\ncodex_sessions{state="running"} 1\n');
  const r = cli("--metrics", scrape);
  assert.is(r.status, 1);
  assert.match(r.stderr, /unknown metric codex_tasks_finished_total/);
});

test("unreadable input exits 2 with the reason", () => {
  // The process boundary: the real CLI's exit code and stderr.
  const r = spawnSync(
    process.execPath,
    ["--import", "tsx", "ci/stages/lint/dashboard.ts", "--contract", join(dir, "missing.md")],
    { encoding: "utf8" },
  );
  assert.is(r.status, 2);
  assert.match(r.stderr, /missing\.md/);
});

test.run();
