import { readFileSync } from "node:fs";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  checkMetricNames,
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

test.run();
