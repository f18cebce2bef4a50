/**
 * Trivy's JSON report (`trivy image --format json`, SchemaVersion 2): the fields the gate,
 * the SARIF writer and the summary read, and a parser that says what is wrong and where.
 */

import { SEVERITIES, type Severity } from "../../config.js";

export type { Severity };
/** Trivy's severities, most severe first, as reports and summaries list them. */
export const BY_SEVERITY: readonly Severity[] = [...SEVERITIES].reverse();

/** One vulnerability as Trivy reports it (fields we use; Trivy writes more). */
export interface TrivyVulnerability {
  VulnerabilityID: string;
  PkgName: string;
  InstalledVersion?: string;
  /** Empty or missing when no fix is available. */
  FixedVersion?: string;
  Status?: string;
  Severity: Severity;
  Title?: string;
  Description?: string;
  PrimaryURL?: string;
}

/** One scanned target (the OS packages, a lockfile, …). */
export interface TrivyResult {
  Target: string;
  Class?: string;
  Type?: string;
  Vulnerabilities?: TrivyVulnerability[] | null;
}

/** The top level of a report. */
export interface TrivyReport {
  SchemaVersion: number;
  ArtifactName: string;
  ArtifactType?: string;
  Metadata?: { OS?: { Family?: string; Name?: string }; ImageConfig?: { architecture?: string } };
  Results?: TrivyResult[] | null;
}

/** A vulnerability flattened with the target it was found in. */
export interface Finding extends TrivyVulnerability {
  Target: string;
}

/** Parses and checks a Trivy JSON report; `source` (a file name) prefixes every error. */
export function parseTrivyReport(text: string, source: string): TrivyReport {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new Error(`${source}: not JSON (${(e as Error).message})`);
  }
  if (!isObject(data)) throw new Error(`${source}: expected a JSON object (a Trivy report)`);
  if (data.SchemaVersion !== 2)
    throw new Error(
      `${source}: SchemaVersion is ${JSON.stringify(data.SchemaVersion)}, expected 2 (trivy >= 0.20 with --format json)`,
    );
  if (typeof data.ArtifactName !== "string")
    throw new Error(`${source}: ArtifactName must be a string`);
  const results = data.Results ?? [];
  if (!Array.isArray(results)) throw new Error(`${source}: Results must be an array`);
  for (const [i, r] of results.entries()) checkResult(r, `${source}: Results[${i}]`);
  return data as unknown as TrivyReport;
}

/** Checks one result and its vulnerabilities. */
function checkResult(r: unknown, where: string): void {
  if (!isObject(r) || typeof r.Target !== "string")
    throw new Error(`${where}: expected an object with a string Target`);
  const vulns = r.Vulnerabilities ?? [];
  if (!Array.isArray(vulns)) throw new Error(`${where}.Vulnerabilities must be an array`);
  for (const [j, v] of (vulns as unknown[]).entries()) {
    const at = `${where}.Vulnerabilities[${j}]`;
    if (!isObject(v)) throw new Error(`${at}: expected an object`);
    if (typeof v.VulnerabilityID !== "string" || v.VulnerabilityID === "")
      throw new Error(`${at}: VulnerabilityID must be a non-empty string`);
    if (typeof v.PkgName !== "string") throw new Error(`${at}: PkgName must be a string`);
    if (!BY_SEVERITY.includes(v.Severity as Severity))
      throw new Error(
        `${at} (${v.VulnerabilityID}): Severity ${JSON.stringify(v.Severity)} is not one of ${BY_SEVERITY.join(", ")}`,
      );
  }
}

/** Every vulnerability of a report, with its target. */
export function findings(report: TrivyReport): Finding[] {
  return (report.Results ?? []).flatMap((r) =>
    (r.Vulnerabilities ?? []).map((v) => ({ ...v, Target: r.Target })),
  );
}

/** True when Trivy knows a fixed version. */
export function hasFix(f: TrivyVulnerability): boolean {
  return typeof f.FixedVersion === "string" && f.FixedVersion.trim() !== "";
}

/** Type guard for plain objects. */
function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
