import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { evaluate, parseSeverities, type ScanPolicy } from "../../../../../ci/stages/scan/gate.js";
import { activeIgnores, parseIgnoreFile } from "../../../../../ci/stages/scan/ignore.js";
import { parseTrivyReport } from "../../../../../ci/stages/scan/trivy-report.js";

const fixture = (name: string) =>
  parseTrivyReport(readFileSync(`test/fixtures/trivy/${name}.json`, "utf8"), name);
const policy = (p: Partial<ScanPolicy> = {}): ScanPolicy => ({
  severity: ["CRITICAL", "HIGH"],
  ignoreUnfixed: true,
  ignore: new Set(),
  ...p,
});

test("default policy fails on fixable CRITICAL/HIGH only, across OS and language targets", () => {
  const v = evaluate(fixture("vulnerable"), policy());
  assert.is(v.passed, false);
  assert.equal(v.blocking.map((f) => f.VulnerabilityID).sort(), [
    "CVE-2023-4911",
    "CVE-2024-21538",
    "CVE-2024-2961",
  ]);
  // The unfixed CRITICAL (zlib, will_not_fix) is counted but does not block.
  assert.equal(v.counts, { CRITICAL: 1, HIGH: 3, MEDIUM: 1, LOW: 1, UNKNOWN: 1 });
});

test("a clean report passes with zero counts", () => {
  const v = evaluate(fixture("clean"), policy());
  assert.is(v.passed, true);
  assert.equal(v.counts, { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 });
});

test("ignoreUnfixed: false makes the unfixed CRITICAL block too", () => {
  const v = evaluate(fixture("vulnerable"), policy({ ignoreUnfixed: false }));
  assert.ok(v.blocking.some((f) => f.VulnerabilityID === "CVE-2023-45853"));
  assert.is(v.blocking.length, 4);
});

test("policy severities are configurable: CRITICAL only passes this report", () => {
  assert.is(evaluate(fixture("vulnerable"), policy({ severity: ["CRITICAL"] })).passed, true);
  const medium = evaluate(fixture("vulnerable"), policy({ severity: ["MEDIUM"] }));
  assert.equal(
    medium.blocking.map((f) => f.VulnerabilityID),
    ["CVE-2023-50495"],
  );
});

test(".trivyignore entries in force remove findings from counts and the gate; expired ones do not", () => {
  const entries = parseIgnoreFile(
    [
      "# accepted: not reachable from the app",
      "CVE-2023-4911",
      "CVE-2024-2961 exp:2020-01-01  # expired",
      "CVE-2024-21538 exp:2099-12-31",
      "",
    ].join("\n"),
    ".trivyignore",
  );
  const ignore = activeIgnores(entries, new Date("2026-11-29T00:00:00Z"));
  assert.equal([...ignore].sort(), ["CVE-2023-4911", "CVE-2024-21538"]);
  const v = evaluate(fixture("vulnerable"), policy({ ignore }));
  assert.equal(
    v.blocking.map((f) => f.VulnerabilityID),
    ["CVE-2024-2961"],
  );
  assert.is(v.ignored.length, 2);
  assert.is(v.counts.HIGH, 1);
});

test("an ignore entry applies through its expiry day", () => {
  const entries = parseIgnoreFile("CVE-1 exp:2026-11-29\n", "f");
  assert.ok(activeIgnores(entries, new Date("2026-11-29T23:00:00Z")).has("CVE-1"));
  assert.not.ok(activeIgnores(entries, new Date("2026-11-30T00:00:00Z")).has("CVE-1"));
});

test("a bad .trivyignore line is an error naming file and line", () => {
  assert.throws(
    () => parseIgnoreFile("CVE-1\nCVE-2 until:2030-01-01\n", ".trivyignore"),
    /\.trivyignore:2: unexpected "until:2030-01-01" after CVE-2/,
  );
});

test("the repo's .trivyignore parses", () => {
  parseIgnoreFile(readFileSync(".trivyignore", "utf8"), ".trivyignore");
});

test("severities from config are checked", () => {
  assert.equal(parseSeverities(["critical", "HIGH"], "scan.severity"), ["CRITICAL", "HIGH"]);
  assert.throws(
    () => parseSeverities(["HIGH", "SEVERE"], "scan.severity"),
    /scan.severity: unknown severity "SEVERE"/,
  );
});

test(".trivyignore pkg:<name> entries accept every finding in a package, and must expire", () => {
  const entries = parseIgnoreFile(
    "pkg:libc6 exp:2099-12-31  # rebuild pending\npkg:zlib1g exp:2020-01-01\n",
    ".trivyignore",
  );
  const ignore = activeIgnores(entries, new Date("2026-11-29T00:00:00Z"));
  assert.equal([...ignore], ["pkg:libc6"]);
  const v = evaluate(fixture("vulnerable"), policy({ ignore }));
  // Both libc6 CVEs are accepted; the expired zlib1g entry accepts nothing.
  assert.equal(v.ignored.map((f) => `${f.PkgName} ${f.VulnerabilityID}`).sort(), [
    "libc6 CVE-2023-4911",
    "libc6 CVE-2024-2961",
  ]);
  assert.equal(
    v.blocking.map((f) => f.VulnerabilityID),
    ["CVE-2024-21538"],
  );
  assert.throws(
    () => parseIgnoreFile("# ok\npkg:libexpat1\n", ".trivyignore"),
    /\.trivyignore:2: pkg:libexpat1 accepts every finding in the package, so it needs an expiry/,
  );
  assert.throws(
    () => parseIgnoreFile("pkg:Not_A_Package exp:2099-01-01\n", "x"),
    /x:1: "pkg:Not_A_Package": expected pkg:<Debian package name>/,
  );
});

test.run();
