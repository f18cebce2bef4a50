/**
 * Checks a Grafana dashboard without Grafana: every panel query is valid PromQL (each is wrapped in a
 * recording rule of a temporary rules file and run through `promtool check rules`), and every metric it
 * names is one the exporter exposes: by its contract in docs/architecture.md, or by a real scrape.
 * Datasources come from a variable (no fixed uid), byte metrics have a byte unit, and totals over
 * `$__range` are not drawn as time series.
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

/** The parts of a Grafana panel the checks read. */
interface Panel {
  id?: number;
  title?: string;
  type?: string;
  datasource?: unknown;
  targets?: { expr?: unknown; refId?: string; legendFormat?: string; datasource?: unknown }[];
  panels?: Panel[];
  fieldConfig?: {
    defaults?: { unit?: string };
    overrides?: {
      matcher?: { id?: string; options?: unknown };
      properties?: { id?: string; value?: unknown }[];
    }[];
  };
}

/** The dashboard itself, bare or inside Grafana's `{ "dashboard": … }` wrapper. */
interface DashboardRoot {
  panels?: Panel[];
  templating?: { list?: { name?: string; datasource?: unknown }[] };
  annotations?: { list?: { name?: string; datasource?: unknown }[] };
}
const rootOf = (dashboard: unknown) =>
  ((dashboard as { dashboard?: unknown }).dashboard ?? dashboard) as DashboardRoot;

/** Every panel, rows' nested panels included. */
function allPanels(dashboard: unknown): Panel[] {
  const walk = (panels: Panel[] | undefined): Panel[] =>
    (panels ?? []).flatMap((p) => [p, ...walk(p.panels)]);
  return walk(rootOf(dashboard).panels);
}

const where = (p: Panel) => `panel ${p.id ?? "?"} "${p.title ?? ""}"`;

/** Every query of every panel (rows' nested panels too); accepts a bare dashboard or `{ "dashboard": … }`. */
export function panelQueries(dashboard: unknown): PanelQuery[] {
  return allPanels(dashboard).flatMap((p) =>
    (p.targets ?? []).flatMap((t) =>
      typeof t.expr === "string"
        ? [{ panelId: p.id ?? "?", title: p.title ?? "", refId: t.refId ?? "?", expr: t.expr }]
        : [],
    ),
  );
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

// Grafana's built-in pseudo datasources, which exist in every Grafana.
const BUILTIN_DATASOURCES = new Set(["-- Grafana --", "-- Mixed --", "-- Dashboard --"]);

/**
 * Datasources must come from a dashboard variable (`${datasource}`): a fixed uid or name only resolves in the
 * Grafana it was exported from. A variable reference must name a variable the dashboard defines.
 */
export function checkDatasources(dashboard: unknown, file: string): DashboardProblem[] {
  const root = rootOf(dashboard);
  const variables = new Set((root.templating?.list ?? []).map((v) => v.name));
  const problems: DashboardProblem[] = [];
  const check = (ref: unknown, at: string) => {
    if (ref === undefined || ref === null) return; // Grafana's default datasource
    const uid = typeof ref === "string" ? ref : (ref as { uid?: unknown }).uid;
    if (uid === undefined || uid === null || BUILTIN_DATASOURCES.has(String(uid))) return;
    const variable = /^\$(?:\{(\w+)(?::\w+)?\}|(\w+))$/.exec(String(uid));
    if (!variable)
      problems.push({
        file,
        message: `${at}: fixed datasource ${JSON.stringify(uid)}; use a datasource variable (\${datasource})`,
      });
    else if (!variables.has(variable[1] ?? variable[2]))
      problems.push({ file, message: `${at}: datasource ${uid} names no dashboard variable` });
  };
  for (const p of allPanels(dashboard)) {
    check(p.datasource, where(p));
    for (const t of p.targets ?? []) check(t.datasource, `${where(p)} query ${t.refId ?? "?"}`);
  }
  for (const v of root.templating?.list ?? []) check(v.datasource, `variable ${v.name ?? "?"}`);
  for (const a of root.annotations?.list ?? []) check(a.datasource, `annotation ${a.name ?? "?"}`);
  return problems;
}

/** The unit a target is shown in: the panel's default, or an override matching its refId or display name. */
function unitOf(p: Panel, t: { refId?: string; legendFormat?: string }): string {
  let unit = p.fieldConfig?.defaults?.unit ?? "";
  for (const o of p.fieldConfig?.overrides ?? []) {
    const { id, options } = o.matcher ?? {};
    const hit =
      (id === "byFrameRefID" && options === t.refId) ||
      (id === "byName" && options !== undefined && options === t.legendFormat);
    const set = hit ? o.properties?.find((x) => x.id === "unit") : undefined;
    if (set) unit = String(set.value ?? "");
  }
  return unit;
}

/** Units that show a plain number: wrong for a metric in bytes (1.07 Bil instead of 1 GiB). */
const PLAIN_UNITS = new Set(["short", "none", ""]);

/** A query over a `_bytes` metric must be shown in a byte unit (`bytes`, `decbytes`, …), not `short` or none. */
export function checkUnits(dashboard: unknown, file: string): DashboardProblem[] {
  const problems: DashboardProblem[] = [];
  for (const p of allPanels(dashboard))
    for (const t of p.targets ?? []) {
      if (typeof t.expr !== "string") continue;
      const bytes = metricNames(t.expr).filter((n) => /_bytes(_total)?$/.test(n));
      const unit = unitOf(p, t);
      if (bytes.length && PLAIN_UNITS.has(unit))
        problems.push({
          file,
          message: `${where(p)} query ${t.refId ?? "?"}: ${bytes.join(", ")} shown with unit ${JSON.stringify(unit || "none")}; use "bytes"`,
        });
    }
  return problems;
}

/** A total over `$__range` is one number for the whole range: drawn as a time series, every point repeats it. */
export function checkRangeTotals(dashboard: unknown, file: string): DashboardProblem[] {
  const problems: DashboardProblem[] = [];
  for (const p of allPanels(dashboard))
    if (p.type === "timeseries" || p.type === "graph")
      for (const t of p.targets ?? [])
        if (typeof t.expr === "string" && /\[\s*\$\{?__range(_s|_ms)?\}?\s*\]/.test(t.expr))
          problems.push({
            file,
            message: `${where(p)} query ${t.refId ?? "?"}: a total over $__range in a ${p.type} panel; use a stat panel`,
          });
  return problems;
}

/** Checks one dashboard file against a metric set: JSON, datasources, units, PromQL, metric names. */
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
  return [
    ...checkDatasources(dashboard, file),
    ...checkUnits(dashboard, file),
    ...checkRangeTotals(dashboard, file),
    ...checkPromql(queries, file, promtool),
    ...checkMetricNames(queries, known, file),
  ];
}

/** The CLI on `args`; returns its exit code. Tests run it in-process with their own writers. */
export function main(
  args: string[],
  io: { out: (line: string) => void; err: (line: string) => void } = {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  },
): number {
  const { values, positionals } = parseArgs({
    args,
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
    for (const p of problems) io.err(`${p.file}: ${p.message}`);
    if (problems.length === 0)
      io.out(`dashboard: ${files.join(", ")} ok (${values.metrics ?? values.contract})`);
    return problems.length ? 1 : 0;
  } catch (e) {
    io.err(`dashboard: ${(e as Error).message}`);
    return 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(main(process.argv.slice(2)));
}
