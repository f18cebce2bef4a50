/**
 * Parsers of what apt prints in the scanned image: `apt-get -s upgrade`, `apt-cache policy`,
 * `apt-get indextargets` and /etc/os-release. apt does every version comparison; these only read its
 * answers (which version it would install, and which versions its table ranks above the installed one).
 */

/** One upgrade `apt-get -s upgrade` would make. */
export interface SimulatedUpgrade {
  /** As apt names it, e.g. "libexpat1" or "libc6:i386". */
  pkg: string;
  installed: string;
  candidate: string;
  /** The releases the candidate comes from, e.g. ["Debian-Security:12/oldstable-security"]. */
  releases: string[];
  arch: string;
}

/** What `apt-get -s upgrade` would do. */
export interface SimulatedUpgradeResult {
  upgrades: SimulatedUpgrade[];
  /** Packages apt keeps back (held, or needing new packages or removals). */
  keptBack: string[];
}

/** `Inst pkg [installed] (candidate release, release [arch])`, optionally followed by `[…]` notes. */
const INST = /^Inst (\S+) \[([^\]]+)\] \((\S+) (.+?) \[([^\]]+)\]\)/;

/** True when a release (Inst's `Origin:Version/Suite`, or policy's `codename-security/component`) is a security suite. */
export function isSecurityRelease(release: string): boolean {
  return /-security(\/|$)/.test(release.replace(/^[^:]*:[^/]*\//, ""));
}

/** Parses `apt-get -s upgrade`; `source` names the text in errors. */
export function parseSimulatedUpgrade(text: string, source: string): SimulatedUpgradeResult {
  const upgrades: SimulatedUpgrade[] = [];
  const keptBack: string[] = [];
  const lines = text.split(/\r?\n/);
  let summary = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    if (/^\d+ upgraded, \d+ newly installed, \d+ to remove and \d+ not upgraded\.$/.test(line))
      summary = true;
    if (line === "The following packages have been kept back:")
      for (let j = i + 1; j < lines.length && /^ /.test(lines[j] as string); j++)
        keptBack.push(...(lines[j] as string).trim().split(/\s+/));
    if (!line.startsWith("Inst ")) continue;
    const m = INST.exec(line);
    if (!m) {
      // `Inst pkg (version …)` without a bracketed installed version is a new package, not an upgrade.
      if (/^Inst \S+ \(/.test(line)) continue;
      throw new Error(`${source}:${i + 1}: cannot read apt's line "${line}"`);
    }
    const [, pkg, installed, candidate, releases, arch] = m as unknown as string[];
    upgrades.push({
      pkg: pkg as string,
      installed: installed as string,
      candidate: candidate as string,
      releases: (releases as string).split(", "),
      arch: arch as string,
    });
  }
  if (!summary)
    throw new Error(
      `${source}: no "N upgraded, N newly installed, …" line; is this the output of apt-get -s upgrade?`,
    );
  return { upgrades, keptBack };
}

/** One package's entry in `apt-cache policy`. */
export interface PolicyEntry {
  pkg: string;
  installed?: string;
  candidate?: string;
  /** The version table as apt ranks it, newest first, each with the sources it comes from. */
  versions: { version: string; installed: boolean; sources: string[] }[];
}

/** Parses `apt-cache policy <pkg>…`; `source` names the text in errors. */
export function parsePolicy(text: string, source: string): PolicyEntry[] {
  const entries: PolicyEntry[] = [];
  let entry: PolicyEntry | undefined;
  let version: PolicyEntry["versions"][number] | undefined;
  text.split(/\r?\n/).forEach((line, i) => {
    let m = /^(\S+):$/.exec(line);
    if (m) {
      entry = { pkg: m[1] as string, versions: [] };
      version = undefined;
      entries.push(entry);
      return;
    }
    if (line.trim() === "" || line.trim() === "Version table:") return;
    if (!entry) throw new Error(`${source}:${i + 1}: "${line}" before any package name`);
    m = /^ {2}(Installed|Candidate): (\S+)$/.exec(line);
    if (m) {
      const v = m[2] === "(none)" ? undefined : m[2];
      if (m[1] === "Installed") entry.installed = v;
      else entry.candidate = v;
      return;
    }
    m = /^ (\*\*\*| {3}) (\S+) -?\d+$/.exec(line);
    if (m) {
      version = { version: m[2] as string, installed: m[1] === "***", sources: [] };
      entry.versions.push(version);
      return;
    }
    m = /^ {8}-?\d+ (.+)$/.exec(line);
    if (m && version) {
      version.sources.push(m[1] as string);
      return;
    }
    throw new Error(`${source}:${i + 1}: cannot read apt-cache policy's line "${line}"`);
  });
  return entries;
}

/**
 * The newest version apt ranks above the installed one that comes from a security suite, if any.
 * `apt-cache policy` lists versions newest first (apt's ordering), so this reads positions, never versions.
 */
export function newerSecurityVersion(entry: PolicyEntry): string | undefined {
  const at = entry.versions.findIndex((v) => v.installed);
  if (at < 0) return undefined;
  return entry.versions
    .slice(0, at)
    .find((v) => v.sources.some((s) => isSecurityRelease(s.split(" ")[1] ?? "")))?.version;
}

/** One configured index: `apt-get indextargets --format '$(REPO_URI)\t$(RELEASE)\t$(COMPONENT)'`. */
export interface IndexTarget {
  uri: string;
  suite: string;
  component: string;
}

/** Parses indextargets lines (tab-separated URI, suite, component), deduplicated in order. */
export function parseIndexTargets(text: string, source: string): IndexTarget[] {
  const seen = new Set<string>();
  const out: IndexTarget[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === "") return;
    const [uri, suite, component] = line.split("\t");
    if (!uri || !suite || component === undefined)
      throw new Error(`${source}:${i + 1}: expected "URI<TAB>suite<TAB>component", got "${line}"`);
    if (seen.has(line)) return;
    seen.add(line);
    out.push({ uri, suite, component });
  });
  return out;
}

/** The fields of /etc/os-release the scan needs. */
export interface OsRelease {
  id: string;
  versionCodename?: string;
  prettyName?: string;
}

/** Parses /etc/os-release (shell-style KEY=value, optionally quoted). */
export function parseOsRelease(text: string): OsRelease {
  const values: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim());
    if (m) values[m[1] as string] = (m[2] as string).replace(/^(["'])(.*)\1$/, "$2");
  }
  return {
    id: values.ID ?? "",
    ...(values.VERSION_CODENAME ? { versionCodename: values.VERSION_CODENAME } : {}),
    ...(values.PRETTY_NAME ? { prettyName: values.PRETTY_NAME } : {}),
  };
}

/** One index apt has lists for: `apt-cache policy` without arguments, its "Package files:" part. */
export interface PackageFile {
  uri: string;
  /** The suite as the sources name it, e.g. "bookworm-security". */
  suite: string;
  component: string;
  arch: string;
  /** The Release file's fields, e.g. { n: "bookworm-security", a: "oldstable-security" }. */
  release: Record<string, string>;
}

/** Parses the package files `apt-cache policy` lists (only indexes whose lists are present show up). */
export function parsePackageFiles(text: string): PackageFile[] {
  const files: PackageFile[] = [];
  let last: PackageFile | undefined;
  for (const line of text.split(/\r?\n/)) {
    const m = /^ *-?\d+ (\S+) (\S+?)\/(\S+) (\S+) Packages$/.exec(line);
    if (m) {
      last = {
        uri: m[1] as string,
        suite: m[2] as string,
        component: m[3] as string,
        arch: m[4] as string,
        release: {},
      };
      files.push(last);
      continue;
    }
    const r = /^ {5}release (.*)$/.exec(line);
    if (r && last)
      for (const kv of (r[1] as string).split(",")) {
        const [k, ...v] = kv.split("=");
        if (k) last.release[k] = v.join("=");
      }
    if (!/^ {5}/.test(line)) last = undefined;
  }
  return files;
}
