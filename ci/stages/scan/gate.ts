/**
 * The scan gate: which findings fail the stage. Default policy (ci/pipeline.yaml `scan:`):
 * CRITICAL and HIGH with a fix available, minus the `.trivyignore` entries still in force.
 */
import { packageKey } from "./ignore.js";
import {
  BY_SEVERITY,
  type Finding,
  findings,
  hasFix,
  type Severity,
  type TrivyReport,
} from "./trivy-report.js";

/** What fails a scan. */
export interface ScanPolicy {
  /** Severities that fail. */
  severity: Severity[];
  /** Only findings with a fixed version fail. */
  ignoreUnfixed: boolean;
  /** Accepted IDs and `pkg:<name>` packages (from `.trivyignore`, already filtered for expiry). */
  ignore: Set<string>;
}

/** Counts of findings by severity. */
export type SeverityCounts = Record<Severity, number>;

/** The verdict on one report. */
export interface GateVerdict {
  passed: boolean;
  /** Findings after `.trivyignore`, by severity (what the summary shows). */
  counts: SeverityCounts;
  /** Findings that fail the policy. */
  blocking: Finding[];
  /** Findings left out by `.trivyignore`. */
  ignored: Finding[];
  /** Findings kept after `.trivyignore` (for SARIF). */
  kept: Finding[];
}

/** Zero counts for every severity. */
export function zeroCounts(): SeverityCounts {
  return { CRITICAL: 0, HIGH: 0, MEDIUM: 0, LOW: 0, UNKNOWN: 0 };
}

/** Judges a report against a policy. */
export function evaluate(report: TrivyReport, policy: ScanPolicy): GateVerdict {
  const all = findings(report);
  const accepted = (f: Finding) =>
    policy.ignore.has(f.VulnerabilityID) || policy.ignore.has(packageKey(f.PkgName));
  const ignored = all.filter(accepted);
  const kept = all.filter((f) => !accepted(f));
  const counts = zeroCounts();
  for (const f of kept) counts[f.Severity] += 1;
  const blocking = kept.filter(
    (f) => policy.severity.includes(f.Severity) && (!policy.ignoreUnfixed || hasFix(f)),
  );
  return { passed: blocking.length === 0, counts, blocking, ignored, kept };
}

/** Checks severities from config or CLI; `where` names the key in the error. */
export function parseSeverities(values: string[], where: string): Severity[] {
  return values.map((v) => {
    const s = v.trim().toUpperCase();
    if (!BY_SEVERITY.includes(s as Severity))
      throw new Error(
        `${where}: unknown severity "${v}"; expected one of ${BY_SEVERITY.join(", ")}`,
      );
    return s as Severity;
  });
}
