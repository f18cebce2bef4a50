/** The lint stage's promtool / amtool checks, run for real with Debian's tools, on the repo and on broken copies. */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { monitoringChecks, runMonitoringChecks } from "../../../../../ci/stages/lint/monitoring.js";

const test = suite("monitoring checks");
const dir = mkdtempSync(join(tmpdir(), "codex-monitoring-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of docker/ under a temp root, with `edit` applied to one file, checked from that root. */
function runOn(file: string, edit: (text: string) => string) {
  const root = mkdtempSync(join(dir, "root-"));
  cpSync("docker", join(root, "docker"), { recursive: true });
  const path = join(root, file);
  writeFileSync(path, edit(readFileSync(path, "utf8")));
  return Object.fromEntries(runMonitoringChecks(root).map((r) => [r.check.name, r]));
}

test("the list covers config, rules, rule tests and the Alertmanager config, in the right images", () => {
  assert.equal(
    monitoringChecks.map((c) => `${c.image}: ${c.args.join(" ")}`),
    [
      "prometheus: promtool check config docker/prometheus/prometheus.yml",
      "prometheus: promtool check rules docker/prometheus/alerts.yml",
      "prometheus: promtool test rules docker/prometheus/alerts.test.yml",
      "alertmanager: amtool check-config docker/alertmanager/alertmanager.yml",
    ],
  );
});

test("every check passes on the repo's configs", () => {
  for (const r of runMonitoringChecks()) assert.ok(r.ok, `${r.check.name}:\n${r.output}`);
});

test("a PromQL error in a rule fails check rules and check config", () => {
  const r = runOn("docker/prometheus/alerts.yml", (t) =>
    t.replace('up{job="codex-father"} == 0', 'up{job="codex-father" == 0'),
  );
  assert.not.ok(r["promtool check rules"]?.ok);
  assert.not.ok(r["promtool check config"]?.ok);
  assert.match(r["promtool check rules"]?.output ?? "", /ServiceDown|parse error/);
});

test("a changed threshold is caught by the rule unit tests", () => {
  const r = runOn("docker/prometheus/alerts.yml", (t) => t.replace("* 100 > 80", "* 100 > 95"));
  assert.ok(r["promtool check rules"]?.ok, "still valid PromQL");
  assert.not.ok(r["promtool test rules"]?.ok);
  assert.match(r["promtool test rules"]?.output ?? "", /HighCPUUsage/);
});

test("an absent() rule on the wrong job, or a runbook link moved, is caught by the rule unit tests", () => {
  for (const edit of [
    (t: string) => t.replace('absent(up{job="codex-father"})', 'absent(up{job="codex"})'),
    (t: string) => t.replace("docs/runbooks.md#serviceabsent", "docs/runbooks.md#absent"),
  ]) {
    const r = runOn("docker/prometheus/alerts.yml", edit);
    assert.ok(r["promtool check rules"]?.ok, "still valid rules");
    assert.not.ok(r["promtool test rules"]?.ok);
    assert.match(r["promtool test rules"]?.output ?? "", /ServiceAbsent/);
  }
});

test("an Alertmanager route to an unknown receiver fails amtool", () => {
  const r = runOn("docker/alertmanager/alertmanager.yml", (t) =>
    t.replace("receiver: critical-alerts", "receiver: nobody-home"),
  );
  assert.not.ok(r["amtool check-config"]?.ok);
  assert.match(r["amtool check-config"]?.output ?? "", /nobody-home/);
});

test.run();
