/** Counts by severity per platform, as one summary line and a Markdown table. */
import type { GateVerdict } from "./gate.js";
import { BY_SEVERITY, type Finding } from "./trivy-report.js";

/** The scanner behind a scan, named in the summary and the SARIF. */
export interface Scanner {
  /** SARIF `tool.driver.name`, e.g. "Trivy" or "debian-security". */
  name: string;
  informationUri: string;
  /**
   * True when the scanner rates no severities (every finding is UNKNOWN) and any finding it reports
   * fails the scan: the summary counts packages and findings instead, and SARIF results are errors.
   */
  unrated?: boolean;
}

/** Trivy, the default scanner. */
export const TRIVY: Scanner = {
  name: "Trivy",
  informationUri: "https://github.com/aquasecurity/trivy",
};

/** One platform's scan outcome. */
export interface PlatformScan {
  platform: string;
  verdict: GateVerdict;
  /** Default Trivy. */
  scanner?: Scanner;
  /** What deserves attention but does not fail the scan (e.g. a newer Node patch). */
  warnings?: string[];
  /** How the scan was done where it matters (e.g. apt sources added for the check). */
  notes?: string[];
}

/** Findings grouped by package and versions: "libexpat1 2.5.0-1+deb12u2 → 2.5.0-1+deb12u5" and its IDs. */
function byPackage(fs: Finding[]): { line: string; ids: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const f of fs) {
    const line = `${f.PkgName} ${f.InstalledVersion ?? "?"} → ${f.FixedVersion || "no fix yet"}`;
    groups.set(line, [...(groups.get(line) ?? []), f.VulnerabilityID]);
  }
  return [...groups].map(([line, ids]) => ({ line, ids }));
}

/** The distinct packages of some findings. */
const packages = (fs: { PkgName: string }[]) => new Set(fs.map((f) => f.PkgName)).size;

/** e.g. "linux/amd64: CRITICAL 0, HIGH 1, MEDIUM 2, LOW 0, UNKNOWN 0 (1 blocking, 1 ignored)". */
export function summaryLine(scan: PlatformScan): string {
  const v = scan.verdict;
  if (scan.scanner?.unrated) {
    const all = [...v.kept, ...v.ignored];
    const pending = all.length
      ? `security updates pending for ${packages(all)} package(s), ${all.length} finding(s)`
      : "no security updates pending";
    const extra = [`${v.blocking.length} blocking`];
    if (v.ignored.length > 0) extra.push(`${v.ignored.length} accepted`);
    const named = v.blocking.length
      ? `: ${byPackage(v.blocking)
          .map(
            (p) =>
              `${p.line} (${p.ids.slice(0, 3).join(", ")}${p.ids.length > 3 ? `, ${p.ids.length - 3} more` : ""})`,
          )
          .join("; ")}`
      : "";
    const warned = scan.warnings?.length ? `; warning: ${scan.warnings.join("; ")}` : "";
    return `${scan.platform}: ${pending} (${extra.join(", ")})${named}${warned}`;
  }
  const counts = BY_SEVERITY.map((s) => `${s} ${v.counts[s]}`).join(", ");
  const extra = [`${v.blocking.length} blocking`];
  if (v.ignored.length > 0) extra.push(`${v.ignored.length} ignored`);
  return `${scan.platform}: ${counts} (${extra.join(", ")})`;
}

/** A Markdown table for GITHUB_STEP_SUMMARY, one row per platform, then the blocking findings. */
export function summaryMarkdown(scans: PlatformScan[]): string {
  const unrated = scans.some((s) => s.scanner?.unrated);
  const head = unrated
    ? "| platform | packages with security updates | findings | blocking | accepted |"
    : `| platform | ${BY_SEVERITY.join(" | ")} | blocking | ignored |`;
  const rule = unrated ? "|---|---|---|---|---|" : `|${"---|".repeat(BY_SEVERITY.length + 3)}`;
  const rows = scans.map((s) => {
    const v = s.verdict;
    const all = [...v.kept, ...v.ignored];
    return unrated
      ? `| ${s.platform} | ${packages(all)} | ${all.length} | ${v.blocking.length} | ${v.ignored.length} |`
      : `| ${s.platform} | ${BY_SEVERITY.map((x) => v.counts[x]).join(" | ")} | ${v.blocking.length} | ${v.ignored.length} |`;
  });
  const blocking = scans.flatMap((s) =>
    unrated
      ? byPackage(s.verdict.blocking).map((p) => `- ${s.platform}: ${p.line}: ${p.ids.join(", ")}`)
      : s.verdict.blocking.map(
          (f) =>
            `- ${s.platform}: ${f.VulnerabilityID} (${f.Severity}) in ${f.PkgName} ${f.InstalledVersion ?? ""}, fixed in ${f.FixedVersion || "no release yet"}`,
        ),
  );
  const listed = (title: string, pick: (s: PlatformScan) => string[] | undefined) => {
    const lines = scans.flatMap((s) => (pick(s) ?? []).map((l) => `- ${s.platform}: ${l}`));
    return lines.length ? ["", title, ...lines] : [];
  };
  return [
    head,
    rule,
    ...rows,
    ...(blocking.length ? ["", "Blocking:", ...blocking] : []),
    ...listed("Warnings:", (s) => s.warnings),
    ...listed("Notes:", (s) => s.notes),
  ].join("\n");
}
