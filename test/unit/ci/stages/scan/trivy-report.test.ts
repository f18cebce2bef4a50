import { test } from "uvu";
import * as assert from "uvu/assert";
import { findings, parseTrivyReport } from "../../../../../ci/stages/scan/trivy-report.js";

const base = { SchemaVersion: 2, ArtifactName: "img.tar" };

test("parses a report and flattens findings with their targets", () => {
  const r = parseTrivyReport(
    JSON.stringify({
      ...base,
      Results: [
        {
          Target: "os",
          Vulnerabilities: [{ VulnerabilityID: "CVE-1", PkgName: "a", Severity: "LOW" }],
        },
        { Target: "Node.js", Vulnerabilities: null },
      ],
    }),
    "r.json",
  );
  assert.equal(
    findings(r).map((f) => [f.Target, f.VulnerabilityID]),
    [["os", "CVE-1"]],
  );
});

test("a report with no Results has no findings", () => {
  assert.equal(findings(parseTrivyReport(JSON.stringify({ ...base, Results: null }), "r")), []);
});

test("bad reports are errors naming the file and the place", () => {
  assert.throws(() => parseTrivyReport("{", "a.json"), /a.json: not JSON/);
  assert.throws(() => parseTrivyReport("[]", "a.json"), /a.json: expected a JSON object/);
  assert.throws(
    () => parseTrivyReport(JSON.stringify({ ...base, SchemaVersion: 1 }), "a.json"),
    /a.json: SchemaVersion is 1, expected 2/,
  );
  assert.throws(
    () =>
      parseTrivyReport(
        JSON.stringify({
          ...base,
          Results: [
            {
              Target: "t",
              Vulnerabilities: [{ VulnerabilityID: "CVE-9", PkgName: "p", Severity: "SEVERE" }],
            },
          ],
        }),
        "a.json",
      ),
    /a.json: Results\[0\].Vulnerabilities\[0\] \(CVE-9\): Severity "SEVERE" is not one of/,
  );
});

test.run();
