/**
 * SARIF 2.1.0 for GitHub code scanning, converted from Trivy's JSON (or the debian-security scanner's
 * report in the same shape) after `.trivyignore`.
 *
 * Converted here rather than by a second `trivy --format sarif` run so the SARIF holds exactly
 * the findings the gate judged. One run per platform, each with its own `automationDetails.id`,
 * since GitHub rejects several runs of one tool and category in one upload. Results point at
 * the Dockerfile that produced the image, so alerts land on a file of the repo.
 */

import { type PlatformScan, type Scanner, TRIVY } from "./summary.js";
import type { Finding, Severity } from "./trivy-report.js";

/** SARIF level per Trivy severity (as Trivy's own SARIF writer maps them). */
const LEVEL: Record<Severity, "error" | "warning" | "note"> = {
  CRITICAL: "error",
  HIGH: "error",
  MEDIUM: "warning",
  LOW: "note",
  UNKNOWN: "note",
};

/** GitHub's `security-severity` score per severity (it buckets >=9 critical, >=7 high, >=4 medium). */
const SCORE: Record<Severity, string> = {
  CRITICAL: "9.5",
  HIGH: "8.0",
  MEDIUM: "5.5",
  LOW: "2.0",
  UNKNOWN: "0.0",
};

/** Minimal SARIF types: the parts we write. */
export interface SarifLog {
  $schema: string;
  version: "2.1.0";
  runs: SarifRun[];
}
interface SarifRun {
  tool: { driver: { name: string; informationUri: string; rules: SarifRule[] } };
  automationDetails: { id: string };
  results: SarifResult[];
}
interface SarifRule {
  id: string;
  shortDescription: { text: string };
  fullDescription: { text: string };
  helpUri?: string;
  defaultConfiguration: { level: string };
  /** Left out for a scanner that rates no severities, so GitHub goes by the level. */
  properties: { tags: string[]; "security-severity"?: string };
}
interface SarifResult {
  ruleId: string;
  ruleIndex: number;
  level: string;
  message: { text: string };
  locations: {
    physicalLocation: { artifactLocation: { uri: string }; region: { startLine: 1 } };
  }[];
}

/** Builds the SARIF log for every platform's kept findings; `dockerfile` is the repo path results point at. */
export function toSarif(scans: PlatformScan[], dockerfile: string): SarifLog {
  return {
    $schema: "https://json.schemastore.org/sarif-2.1.0.json",
    version: "2.1.0",
    runs: scans.map((s) => run(s, dockerfile)),
  };
}

/** A result's level: by severity, or an error for a scanner whose every finding fails the scan. */
const levelOf = (f: Finding, scanner: Scanner) => (scanner.unrated ? "error" : LEVEL[f.Severity]);

/** One run: rules deduplicated by ID, one result per finding. */
function run(scan: PlatformScan, dockerfile: string): SarifRun {
  const scanner = scan.scanner ?? TRIVY;
  const rules: SarifRule[] = [];
  const index = new Map<string, number>();
  const results = scan.verdict.kept.map((f) => {
    let i = index.get(f.VulnerabilityID);
    if (i === undefined) {
      i = rules.push(rule(f, scanner)) - 1;
      index.set(f.VulnerabilityID, i);
    }
    return result(f, i, dockerfile, scanner);
  });
  return {
    tool: { driver: { name: scanner.name, informationUri: scanner.informationUri, rules } },
    automationDetails: { id: `${scanner.name.toLowerCase()}/${scan.platform}/` },
    results,
  };
}

/** The rule for a vulnerability ID. */
function rule(f: Finding, scanner: Scanner): SarifRule {
  return {
    id: f.VulnerabilityID,
    shortDescription: { text: f.Title || f.VulnerabilityID },
    fullDescription: { text: f.Description || f.Title || f.VulnerabilityID },
    ...(f.PrimaryURL ? { helpUri: f.PrimaryURL } : {}),
    defaultConfiguration: { level: levelOf(f, scanner) },
    properties: scanner.unrated
      ? { tags: ["vulnerability", "security", scanner.name] }
      : {
          tags: ["vulnerability", "security", f.Severity],
          "security-severity": SCORE[f.Severity],
        },
  };
}

/** One finding as a result on the Dockerfile. */
function result(f: Finding, ruleIndex: number, dockerfile: string, scanner: Scanner): SarifResult {
  const fixed = f.FixedVersion ? `Fixed Version: ${f.FixedVersion}` : "Fixed Version: none yet";
  return {
    ruleId: f.VulnerabilityID,
    ruleIndex,
    level: levelOf(f, scanner),
    message: {
      text: `Target: ${f.Target}\nPackage: ${f.PkgName}\nInstalled Version: ${f.InstalledVersion ?? "?"}\nVulnerability ${f.VulnerabilityID}\n${scanner.unrated ? "" : `Severity: ${f.Severity}\n`}${fixed}`,
    },
    locations: [
      { physicalLocation: { artifactLocation: { uri: dockerfile }, region: { startLine: 1 } } },
    ],
  };
}
