import { readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  checkDatasources,
  checkMetricNames,
  checkRangeTotals,
  checkUnits,
  contractMetrics,
  metricNames,
  panelQueries,
  promqlOf,
  scrapedMetrics,
} from "../../../../../ci/stages/lint/dashboard.js";

const test = suite("dashboard check");

test("metricNames finds selectors, not functions, labels, keywords or durations", () => {
  assert.equal(
    metricNames(
      'histogram_quantile(0.95, sum by (le) (rate(a_bucket{job="x", le!="+Inf"}[$__rate_interval]))) / on (job) group_left b offset 5m and time() - c',
    ).sort(),
    ["a_bucket", "b", "c"],
  );
  assert.equal(metricNames('sum(rate(x_total{state="running"}[5m])) > 0'), ["x_total"]);
});

test("promqlOf replaces Grafana's interval variables", () => {
  assert.is(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose / Grafana syntax, not a JS template
    promqlOf("rate(x[$__rate_interval]) + rate(y[${__range}])"),
    "rate(x[5m]) + rate(y[5m])",
  );
});

test("contractMetrics reads docs/architecture.md: histograms expand, prefixes stay prefixes", () => {
  const set = contractMetrics(readFileSync("docs/architecture.md", "utf8"));
  assert.ok(set.names.has("codex_tasks_finished_total"));
  assert.ok(set.names.has("codex_task_duration_seconds_bucket"));
  assert.ok(set.names.has("codex_mcp_request_duration_seconds_count"));
  assert.not.ok(set.names.has("codex_task_duration_seconds"));
  assert.ok(set.names.has("up"));
  assert.equal(set.prefixes.sort(), ["nodejs_", "process_"]);
});

test("scrapedMetrics reads names from the text format", () => {
  const set = scrapedMetrics('# HELP a x\n# TYPE a counter\na_total 1\nb{l="1"} 2\n');
  assert.ok(set.names.has("a_total") && set.names.has("b"));
});

test("panelQueries walks nested panels and the { dashboard } wrapper; unknown metrics are named", () => {
  const d = {
    dashboard: {
      panels: [
        { id: 1, title: "Top", targets: [{ refId: "A", expr: "codex_sessions" }] },
        {
          id: 9,
          type: "row",
          panels: [
            { id: 2, title: "Inner", targets: [{ refId: "B", expr: "codex_uptime_seconds" }] },
          ],
        },
      ],
    },
  };
  const queries = panelQueries(d);
  assert.is(queries.length, 2);
  const known = contractMetrics(readFileSync("docs/architecture.md", "utf8"));
  const problems = checkMetricNames(queries, known, "d.json");
  assert.equal(
    problems.map((p) => p.message),
    ['panel 2 "Inner" query B: unknown metric codex_uptime_seconds'],
  );
});

test("the committed dashboard names only contract metrics", () => {
  const file = "docker/grafana/dashboards/codex-father.json";
  const queries = panelQueries(JSON.parse(readFileSync(file, "utf8")));
  assert.ok(queries.length >= 10);
  assert.equal(
    checkMetricNames(queries, contractMetrics(readFileSync("docs/architecture.md", "utf8")), file),
    [],
  );
});

/** A one-panel dashboard with a datasource variable, for the checks below. */
function oneQuery(panel: Record<string, unknown>, target: Record<string, unknown> = {}) {
  return {
    templating: { list: [{ name: "datasource", type: "datasource", query: "prometheus" }] },
    panels: [
      {
        id: 7,
        title: "P",
        type: "timeseries",
        targets: [{ refId: "A", expr: "codex_sessions", ...target }],
        ...panel,
      },
    ],
  };
}
const ds = (uid: unknown) => ({ type: "prometheus", uid });
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana variable syntax, not a template.
const DS_VAR = "${datasource}";
const fixedUid = (at: string, uid: string) =>
  `${at}: fixed datasource "${uid}"; use a datasource variable (${DS_VAR})`;
const messages = (problems: { message: string }[]) => problems.map((p) => p.message);

test("a fixed datasource uid or name is rejected on panels, queries, variables and annotations", () => {
  const fixed = {
    ...oneQuery({ datasource: ds("prometheus") }, { datasource: ds("P1809F7CD0C75ACF3") }),
    annotations: { list: [{ name: "deploys", datasource: "Prometheus" }] },
  };
  fixed.templating.list.push({
    name: "instance",
    type: "query",
    datasource: ds("prometheus"),
  } as never);
  assert.equal(messages(checkDatasources(fixed, "d.json")), [
    fixedUid('panel 7 "P"', "prometheus"),
    fixedUid('panel 7 "P" query A', "P1809F7CD0C75ACF3"),
    fixedUid("variable instance", "prometheus"),
    fixedUid("annotation deploys", "Prometheus"),
  ]);
});

test("datasource variables pass when defined; built-ins and the default datasource pass", () => {
  for (const uid of [DS_VAR, "$datasource", DS_VAR.replace("}", ":text}"), "-- Mixed --"])
    assert.equal(checkDatasources(oneQuery({ datasource: ds(uid) }), "d.json"), [], uid);
  assert.equal(checkDatasources(oneQuery({}), "d.json"), []);
  const undefinedVar = DS_VAR.replace("datasource", "ds");
  assert.equal(messages(checkDatasources(oneQuery({ datasource: ds(undefinedVar) }), "d.json")), [
    `panel 7 "P": datasource ${undefinedVar} names no dashboard variable`,
  ]);
});

test("a byte metric shown as short, none or no unit is rejected; byte units and overrides pass", () => {
  const memory = { expr: "process_resident_memory_bytes / 1024 / 1024", legendFormat: "RSS (MiB)" };
  for (const unit of ["short", "none", undefined])
    assert.equal(
      messages(checkUnits(oneQuery({ fieldConfig: { defaults: { unit } } }, memory), "d.json")),
      [
        `panel 7 "P" query A: process_resident_memory_bytes shown with unit "${unit ?? "none"}"; use "bytes"`,
      ],
      String(unit),
    );
  for (const unit of ["bytes", "decbytes", "mbytes"])
    assert.equal(
      checkUnits(oneQuery({ fieldConfig: { defaults: { unit } } }, memory), "d.json"),
      [],
    );
  // A panel in `short` whose byte query is overridden to bytes, by refId or by display name.
  for (const matcher of [
    { id: "byFrameRefID", options: "A" },
    { id: "byName", options: "RSS (MiB)" },
  ]) {
    const fieldConfig = {
      defaults: { unit: "short" },
      overrides: [{ matcher, properties: [{ id: "unit", value: "bytes" }] }],
    };
    assert.equal(checkUnits(oneQuery({ fieldConfig }, memory), "d.json"), [], matcher.id);
  }
  // Counts may stay short.
  const counts = oneQuery({ fieldConfig: { defaults: { unit: "short" } } });
  assert.equal(checkUnits(counts, "d.json"), []);
});

test("a total over $__range is rejected in a time series and accepted in a stat panel", () => {
  const total = { expr: "sum(increase(codex_mcp_errors_total[$__range]))" };
  assert.equal(messages(checkRangeTotals(oneQuery({}, total), "d.json")), [
    'panel 7 "P" query A: a total over $__range in a timeseries panel; use a stat panel',
  ]);
  assert.equal(checkRangeTotals(oneQuery({ type: "stat" }, total), "d.json"), []);
  const rate = { expr: "rate(codex_mcp_errors_total[$__rate_interval])" };
  assert.equal(checkRangeTotals(oneQuery({}, rate), "d.json"), []);
});

test("the committed dashboard: variables, no fixed uid, byte units, stat totals", () => {
  const file = "docker/grafana/dashboards/codex-father.json";
  const d = JSON.parse(readFileSync(file, "utf8"));
  assert.equal(
    d.templating.list.map((v: { name: string; type: string }) => `${v.name}:${v.type}`),
    ["datasource:datasource", "instance:query"],
  );
  assert.equal(checkDatasources(d, file), []);
  assert.equal(checkUnits(d, file), []);
  assert.equal(checkRangeTotals(d, file), []);
  // Every metric a query selects is narrowed to the chosen instances.
  for (const q of panelQueries(d))
    for (const name of metricNames(q.expr)) {
      const all = q.expr.match(new RegExp(`\\b${name}\\b`, "g")) ?? [];
      const narrowed =
        q.expr.match(new RegExp(`\\b${name}\\{[^}]*instance=~"\\$instance"`, "g")) ?? [];
      assert.is(narrowed.length, all.length, `panel ${q.panelId} ${q.refId}: ${name}`);
    }
  // p50/p95/p99 of both histograms, from their buckets.
  for (const h of ["codex_task_duration_seconds", "codex_mcp_request_duration_seconds"]) {
    const qs = panelQueries(d).filter((q) => q.expr.includes(`${h}_bucket`));
    assert.equal(
      qs.map((q) => /histogram_quantile\((0\.\d+),/.exec(q.expr)?.[1]),
      ["0.5", "0.95", "0.99"],
      h,
    );
  }
});

test.run();
