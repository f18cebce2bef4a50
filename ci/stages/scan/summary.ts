/** Counts by severity per platform, as one summary line and a Markdown table. */
import type { GateVerdict } from "./gate.js";
import { BY_SEVERITY } from "./trivy-report.js";

/** One platform's scan outcome. */
export interface PlatformScan {
  platform: string;
  verdict: GateVerdict;
}

/** e.g. "linux/amd64: CRITICAL 0, HIGH 1, MEDIUM 2, LOW 0, UNKNOWN 0 (1 blocking, 1 ignored)". */
export function summaryLine(scan: PlatformScan): string {
  const counts = BY_SEVERITY.map((s) => `${s} ${scan.verdict.counts[s]}`).join(", ");
  const extra = [`${scan.verdict.blocking.length} blocking`];
  if (scan.verdict.ignored.length > 0) extra.push(`${scan.verdict.ignored.length} ignored`);
  return `${scan.platform}: ${counts} (${extra.join(", ")})`;
}

/** A Markdown table for GITHUB_STEP_SUMMARY, one row per platform, then the blocking findings. */
export function summaryMarkdown(scans: PlatformScan[]): string {
  const head = `| platform | ${BY_SEVERITY.join(" | ")} | blocking | ignored |`;
  const rule = `|${"---|".repeat(BY_SEVERITY.length + 3)}`;
  const rows = scans.map(
    (s) =>
      `| ${s.platform} | ${BY_SEVERITY.map((v) => s.verdict.counts[v]).join(" | ")} | ${s.verdict.blocking.length} | ${s.verdict.ignored.length} |`,
  );
  const blocking = scans.flatMap((s) =>
    s.verdict.blocking.map(
      (f) =>
        `- ${s.platform}: ${f.VulnerabilityID} (${f.Severity}) in ${f.PkgName} ${f.InstalledVersion ?? ""}, fixed in ${f.FixedVersion || "no release yet"}`,
    ),
  );
  return [head, rule, ...rows, ...(blocking.length ? ["", "Blocking:", ...blocking] : [])].join(
    "\n",
  );
}
