/**
 * The apt sources the check runs against: the image's own `<codename>-security` and `<codename>-updates`
 * entries, or, where the image lacks one, the same suite on the image's Debian mirror. Only those two
 * suites: the question is which installed packages they have newer versions of, and leaving out the main
 * suite's 50 MB of Packages keeps `apt-get update` fast, above all under qemu.
 */
import type { IndexTarget, OsRelease } from "./apt.js";

/** Debian's archive keyring, which every Debian image has (apt depends on it). */
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
const DEFAULT_MIRROR = "http://deb.debian.org/debian/";

/** What the check uses, and what it had to add to the image's sources. */
export interface ScanSources {
  codename: string;
  /** sources.list text (one-line format). */
  list: string;
  /** The suites checked, e.g. ["bookworm-security", "bookworm-updates"]. */
  suites: string[];
  /** Suites the image's own sources lack, added for the check. */
  added: string[];
}

/** The Debian codename of an image, or a clear error for one this scanner cannot check. */
export function debianCodename(os: OsRelease, image: string): string {
  if (os.id !== "debian")
    throw new Error(
      `${image} is ${os.prettyName ?? (os.id || "not Debian (no ID in /etc/os-release)")}; the debian-security scanner checks Debian images only`,
    );
  if (!os.versionCodename)
    throw new Error(
      `${image}: /etc/os-release has no VERSION_CODENAME (Debian testing or sid?); the debian-security scanner needs a release with a security suite`,
    );
  return os.versionCodename;
}

/** The suites an image's sources lack, of `<codename>-security` and `<codename>-updates`. */
export function missingSuites(targets: IndexTarget[], codename: string): string[] {
  return [`${codename}-security`, `${codename}-updates`].filter(
    (s) => !targets.some((t) => t.suite === s),
  );
}

/** The check's sources from the image's configured index targets. */
export function scanSources(targets: IndexTarget[], codename: string): ScanSources {
  const security = `${codename}-security`;
  const updates = `${codename}-updates`;
  const withSlash = (u: string) => (u.endsWith("/") ? u : `${u}/`);
  const main = targets.find((t) => t.suite === codename);
  const mirror = withSlash(main?.uri ?? DEFAULT_MIRROR);
  const componentsOf = (suite: string) => {
    const own = targets.filter((t) => t.suite === suite).map((t) => t.component);
    const base = targets.filter((t) => t.suite === codename).map((t) => t.component);
    return [...new Set(own.length ? own : base.length ? base : ["main"])];
  };
  const uriOf = (suite: string, derived: string) =>
    withSlash(targets.find((t) => t.suite === suite)?.uri ?? derived);
  // deb.debian.org/debian/ serves its security suites at deb.debian.org/debian-security/; mirrors do the same.
  const securityUri = uriOf(
    security,
    /\/debian\/$/.test(mirror)
      ? mirror.replace(/\/debian\/$/, "/debian-security/")
      : DEFAULT_MIRROR.replace(/\/debian\/$/, "/debian-security/"),
  );
  const line = (uri: string, suite: string) =>
    `deb [signed-by=${KEYRING}] ${uri} ${suite} ${componentsOf(suite).join(" ")}`;
  return {
    codename,
    list: `${line(securityUri, security)}\n${line(uriOf(updates, mirror), updates)}\n`,
    suites: [security, updates],
    added: missingSuites(targets, codename),
  };
}
