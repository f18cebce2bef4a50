/**
 * Checks a Grafana dashboard without Grafana: every panel query is valid PromQL (each is wrapped in a
 * recording rule of a temporary rules file and run through `promtool check rules`), and every metric it
 * names is one the exporter exposes: by its contract in docs/architecture.md, or by a real scrape.
 *
 * Usage: npx tsx ci/stages/lint/dashboard.ts [--metrics <scrape.txt>] [--contract docs/architecture.md] [file ...]
 *        (default docker/grafana/dashboards/*.json). Exit 0 clean, 1 problems, 2 unusable input or no promtool.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { stringify } from "yaml";

/** One PromQL query of a panel. */
export interface PanelQuery {
  panelId: number | string;
  title: string;
  refId: string;
  expr: string;
}

/** The set of metric names a dashboard may use: exact names plus prefixes (`process_`, `nodejs_`). */
export interface MetricSet {
  names: Set<string>;
  prefixes: string[];
}

/** Series Prometheus makes itself for every target. */
const PROMETHEUS_SERIES = [
  "up",
  "scrape_duration_seconds",
  "scrape_samples_scraped",
  "scrape_samples_post_metric_relabeling",
  "scrape_series_added",
];

// Grafana's built-in interval variables become a fixed range so promtool can parse the query.
const GRAFANA_VARS = /\$\{?__(rate_interval|interval|range)(_ms|_s)?\}?/g;

/** Every query of every panel (rows' nested panels too); accepts a bare dashboard or `{ "dashboard": … }`. */
export function panelQueries(dashboard: unknown): PanelQuery[] {
  const d = dashboard as { dashboard?: unknown; panels?: unknown[] };
  const root = (d.dashboard ?? d) as { panels?: unknown[] };
  const out: PanelQuery[] = [];
  const walk = (panels: unknown[] | undefined) => {
    for (const raw of panels ?? []) {
      const p = raw as { id?: number; title?: string; targets?: unknown[]; panels?: unknown[] };
      for (const t of p.targets ?? []) {
        const target = t as { expr?: unknown; refId?: string };
        if (typeof target.expr === "string")
          out.push({
            panelId: p.id ?? "?",
            title: p.title ?? "",
            refId: target.refId ?? "?",
            expr: target.expr,
          });
      }
      walk(p.panels);
    }
  };
  walk(root.panels);
  return out;
}

/** The PromQL with Grafana variables replaced, ready for promtool. */
export function promqlOf(expr: string): string {
  return expr.replace(GRAFANA_VARS, "5m");
}

const KEYWORDS = new Set([
  "and",
  "or",
  "unless",
  "by",
  "without",
  "on",
  "ignoring",
  "group_left",
  "group_right",
  "bool",
  "offset",
  "inf",
  "nan",
]);

/** The metric names a PromQL expression selects (not functions, labels, keywords or durations). */
export function metricNames(expr: string): string[] {
  const s = promqlOf(expr)
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`/g, '""') // strings
    .replace(/\{[^}]*\}/g, " ") // label matchers
    .replace(/\[[^\]]*\]/g, " ") // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, " "); // label lists
  const names = new Set<string>();
  for (const m of s.matchAll(/(?<![\w.])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, name = "", call] = m;
    if (call || KEYWORDS.has(name.toLowerCase())) continue;
    names.add(name);
  }
  return [...names];
}

/** The exporter's contract: the Metrics table of docs/architecture.md (histograms expand to _bucket/_sum/_count). */
export function contractMetrics(markdown: string): MetricSet {
  const set: MetricSet = { names: new Set(PROMETHEUS_SERIES), prefixes: [] };
  const section = markdown.split(/^## /m).find((s) => s.startsWith("Metrics")) ?? "";
  for (const row of section.split("\n")) {
    const cells = row.split("|").map((c) => c.trim());
    const names = [...(cells[1] ?? "").matchAll(/`([a-zA-Z_:][a-zA-Z0-9_:*]*)`/g)].map(
      (m) => m[1] ?? "",
    );
    for (const name of names) {
      if (name.endsWith("*")) set.prefixes.push(name.slice(0, -1));
      else if (cells[2] === "histogram")
        for (const suffix of ["_bucket", "_sum", "_count"]) set.names.add(name + suffix);
      else set.names.add(name);
    }
  }
  return set;
}

/** The metric names in a Prometheus text exposition (a real scrape of /metrics). */
export function scrapedMetrics(text: string): MetricSet {
  const set: MetricSet = { names: new Set(PROMETHEUS_SERIES), prefixes: [] };
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]/.exec(line);
    if (m?.[1]) set.names.add(m[1]);
  }
  return set;
}

/** A problem found in a dashboard. */
export interface DashboardProblem {
  file: string;
  message: string;
}

/** Runs promtool over every query at once, each as a recording rule in a group named after its panel. */
export function checkPromql(
  queries: PanelQuery[],
  file: string,
  promtool = "promtool",
): DashboardProblem[] {
  const groups = queries.map((q) => ({
    name: `panel ${q.panelId} "${q.title}" query ${q.refId}`,
    rules: [
      {
        record: `dashboard:panel_${String(q.panelId).replace(/\W/g, "_")}_${q.refId.replace(/\W/g, "_")}`,
        expr: promqlOf(q.expr),
      },
    ],
  }));
  const dir = mkdtempSync(path.join(tmpdir(), "codex-dashboard-"));
  try {
    const rules = path.join(dir, "dashboard-rules.yml");
    writeFileSync(rules, stringify({ groups }));
    const r = spawnSync(promtool, ["check", "rules", rules], { encoding: "utf8" });
    if (r.error)
      throw new Error(
        `${promtool}: ${r.error.message} (install Debian's prometheus package for promtool)`,
      );
    if (r.status === 0) return [];
    const out = `${r.stdout}${r.stderr}`.replaceAll(rules, path.basename(file));
    return out
      .split("\n")
      .filter(
        (l) => /group "|could not parse|parse error|FAILED/.test(l) && !/^\s*FAILED:?\s*$/.test(l),
      )
      .map((l) => ({ file, message: `invalid PromQL: ${l.trim()}` }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Flags every metric a query names that the given set does not contain. */
export function checkMetricNames(
  queries: PanelQuery[],
  known: MetricSet,
  file: string,
): DashboardProblem[] {
  const problems: DashboardProblem[] = [];
  for (const q of queries)
    for (const name of metricNames(q.expr))
      if (!known.names.has(name) && !known.prefixes.some((p) => name.startsWith(p)))
        problems.push({
          file,
          message: `panel ${q.panelId} "${q.title}" query ${q.refId}: unknown metric ${name}`,
        });
  return problems;
}

/** Checks one dashboard file against a metric set: JSON, PromQL, metric names. */
export function checkDashboardFile(
  file: string,
  known: MetricSet,
  promtool = "promtool",
): DashboardProblem[] {
  let dashboard: unknown;
  try {
    dashboard = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    return [{ file, message: `cannot read dashboard JSON: ${(e as Error).message}` }];
  }
  const queries = panelQueries(dashboard);
  if (queries.length === 0) return [{ file, message: "no panel has a PromQL query" }];
  return [...checkPromql(queries, file, promtool), ...checkMetricNames(queries, known, file)];
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values, positionals } = parseArgs({
    options: {
      metrics: { type: "string" },
      contract: { type: "string", default: "docs/architecture.md" },
    },
    allowPositionals: true,
  });
  const dir = "docker/grafana/dashboards";
  try {
    const files = positionals.length
      ? positionals
      : readdirSync(dir)
          .filter((f) => f.endsWith(".json"))
          .map((f) => path.join(dir, f));
    const known = values.metrics
      ? scrapedMetrics(readFileSync(values.metrics, "utf8"))
      : contractMetrics(readFileSync(values.contract, "utf8"));
    const problems = files.flatMap((f) => checkDashboardFile(f, known));
    for (const p of problems) console.error(`${p.file}: ${p.message}`);
    if (problems.length === 0)
      console.log(`dashboard: ${files.join(", ")} ok (${values.metrics ?? values.contract})`);
    process.exit(problems.length ? 1 : 0);
  } catch (e) {
    console.error(`dashboard: ${(e as Error).message}`);
    process.exit(2);
  }
}
