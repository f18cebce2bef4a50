/**
 * From apt's answers to findings: every installed package with a newer version in a security suite is a
 * pending security update, and each CVE ID its changelog names since the installed version is one finding
 * (or the package is, when the changelog names none). The report has the shape of Trivy's JSON, so the
 * gate, the SARIF writer and the summary judge it like a Trivy report.
 */
import type { TrivyReport, TrivyVulnerability } from "../trivy-report.js";
import {
  isSecurityRelease,
  newerSecurityVersion,
  type PolicyEntry,
  type SimulatedUpgrade,
  type SimulatedUpgradeResult,
} from "./apt.js";

/** One installed package with a newer version in a security suite. */
export interface PendingUpdate {
  pkg: string;
  arch: string;
  installed: string;
  /** The security suite's version: what `apt-get -s upgrade` installs, or (when apt would take a newer one from elsewhere, or keeps it back) the newest the security suite has. */
  fixed: string;
  /** Where `fixed` comes from, as apt names it, e.g. "Debian-Security:12/oldstable-security". */
  releases: string[];
  /** apt keeps it back (held, or the upgrade needs new packages or removals): `apt-get upgrade` alone will not fix it. */
  keptBack: boolean;
}

/** The pending security updates, and the other upgrades apt would make (from the updates suite). */
export function pendingUpdates(
  upgrade: SimulatedUpgradeResult,
  policy: PolicyEntry[],
  arch: string,
): { security: PendingUpdate[]; other: SimulatedUpgrade[] } {
  const security: PendingUpdate[] = [];
  const other: SimulatedUpgrade[] = [];
  for (const u of upgrade.upgrades) {
    if (u.releases.some(isSecurityRelease))
      security.push({
        pkg: u.pkg,
        arch: u.arch,
        installed: u.installed,
        fixed: u.candidate,
        releases: u.releases.filter(isSecurityRelease),
        keptBack: false,
      });
    else other.push(u);
  }
  // What the simulation does not show as a security upgrade: kept back, or a newer non-security candidate.
  for (const entry of policy) {
    if (security.some((s) => s.pkg === entry.pkg)) continue;
    const fixed = newerSecurityVersion(entry);
    if (!fixed || !entry.installed) continue;
    const suites = (entry.versions.find((v) => v.version === fixed)?.sources ?? [])
      .map((src) => src.split(" ")[1] ?? src)
      .filter(isSecurityRelease);
    security.push({
      pkg: entry.pkg,
      arch,
      installed: entry.installed,
      fixed,
      releases: suites,
      keptBack: upgrade.keptBack.includes(entry.pkg),
    });
  }
  return { security, other };
}

/** The finding ID of a pending update whose changelog names no CVE ID. */
export const packageFindingId = (pkg: string): string => `debian-security:${pkg}`;

/** One platform's findings as a Trivy-shaped report; `cves` maps a package to the CVE IDs its update fixes. */
export function toReport(opts: {
  image: string;
  codename: string;
  arch: string;
  pending: PendingUpdate[];
  cves: Map<string, string[]>;
}): TrivyReport {
  const target = `${opts.image} (debian ${opts.codename})`;
  const vulns: TrivyVulnerability[] = opts.pending.flatMap((p) => {
    const where = `${p.pkg} ${p.installed} → ${p.fixed} (${p.releases.join(", ")})${p.keptBack ? ", kept back by apt" : ""}`;
    const ids = opts.cves.get(p.pkg) ?? [];
    const common = {
      PkgName: p.pkg,
      InstalledVersion: p.installed,
      FixedVersion: p.fixed,
      Status: "fixed",
      Severity: "UNKNOWN" as const,
    };
    if (ids.length === 0)
      return [
        {
          ...common,
          VulnerabilityID: packageFindingId(p.pkg),
          Title: `security update pending: ${where}; its changelog names no CVE ID`,
        },
      ];
    return ids.map((id) => ({
      ...common,
      VulnerabilityID: id,
      Title: `${id} fixed in ${where}`,
      PrimaryURL: `https://security-tracker.debian.org/tracker/${id}`,
    }));
  });
  return {
    SchemaVersion: 2,
    ArtifactName: opts.image,
    ArtifactType: "container_image",
    Metadata: {
      OS: { Family: "debian", Name: opts.codename },
      ImageConfig: { architecture: opts.arch },
    },
    Results: [{ Target: target, Class: "os-pkgs", Type: "debian", Vulnerabilities: vulns }],
  };
}
