/**
 * The promtool / amtool checks of the monitoring configs, as the lint stage runs them in the Prometheus and
 * Alertmanager tool images (binary first, from the repo root).
 *
 * Standalone, with the host's Debian tools: npx tsx ci/stages/lint/monitoring.ts   (exit 0 clean, 1 failures)
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** One tool invocation: which config image runs it and its argv. */
export interface MonitoringCheck {
  name: string;
  image: "prometheus" | "alertmanager";
  args: string[];
}

/** What lint runs: config syntax, rule syntax, the rules' unit tests, and the Alertmanager config. */
export const monitoringChecks: MonitoringCheck[] = [
  {
    name: "promtool check config",
    image: "prometheus",
    args: ["promtool", "check", "config", "docker/prometheus/prometheus.yml"],
  },
  {
    name: "promtool check rules",
    image: "prometheus",
    args: ["promtool", "check", "rules", "docker/prometheus/alerts.yml"],
  },
  {
    name: "promtool test rules",
    image: "prometheus",
    args: ["promtool", "test", "rules", "docker/prometheus/alerts.test.yml"],
  },
  {
    name: "amtool check-config",
    image: "alertmanager",
    args: ["amtool", "check-config", "docker/alertmanager/alertmanager.yml"],
  },
];

/** Result of running one check with the host's tools. */
export interface CheckRun {
  check: MonitoringCheck;
  ok: boolean;
  output: string;
}

/** Runs each check with the tools on the host's PATH (Debian: prometheus, prometheus-alertmanager). */
export function runMonitoringChecks(cwd = process.cwd(), checks = monitoringChecks): CheckRun[] {
  return checks.map((check) => {
    const [bin = "", ...args] = check.args;
    const r = spawnSync(bin, args, { cwd, encoding: "utf8" });
    const output = r.error
      ? `${bin}: ${r.error.message} (install Debian's ${check.image === "prometheus" ? "prometheus" : "prometheus-alertmanager"} package)`
      : `${r.stdout}${r.stderr}`.trim();
    return { check, ok: r.status === 0, output };
  });
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const runs = runMonitoringChecks();
  for (const r of runs) {
    console.log(`${r.ok ? "ok  " : "FAIL"} ${r.check.name}`);
    if (!r.ok) console.log(r.output.replace(/^/gm, "     "));
  }
  process.exit(runs.every((r) => r.ok) ? 0 : 1);
}
