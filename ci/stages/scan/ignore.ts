/**
 * `.trivyignore` in Trivy's plain format: one ID per line, `#` comments, and an optional
 * `exp:YYYY-MM-DD` after the ID after which the entry no longer applies. One extension: `pkg:<name>`
 * accepts every finding in a Debian package (e.g. while its fix waits for a rebuild), and must carry
 * an expiry, since accepting a whole package for ever would hide every fix it ever gets.
 *
 * Trivy applies the file itself (the scan stage passes `--ignorefile`; to Trivy a `pkg:` line is an ID
 * that matches nothing); the gate applies it again to the JSON so a report from any scanner is judged
 * by the same file.
 */

/** One accepted risk. */
export interface IgnoreEntry {
  /** A vulnerability ID, or `pkg:<name>` for a package. */
  id: string;
  /** Last day (UTC) the entry applies; undefined means no expiry. */
  expires?: string;
  line: number;
}

/** The prefix of package entries. */
export const PACKAGE_PREFIX = "pkg:";

/** The ignore key that accepts every finding in package `name`. */
export const packageKey = (name: string): string => `${PACKAGE_PREFIX}${name}`;

/** Parses `.trivyignore` text; `source` names the file in errors. */
export function parseIgnoreFile(text: string, source: string): IgnoreEntry[] {
  const entries: IgnoreEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") return;
    const [id, ...rest] = line.split(/\s+/);
    const entry: IgnoreEntry = { id: id as string, line: i + 1 };
    for (const token of rest) {
      const m = /^exp:(\d{4}-\d{2}-\d{2})$/.exec(token);
      if (!m || Number.isNaN(Date.parse(`${m[1]}T00:00:00Z`)))
        throw new Error(
          `${source}:${i + 1}: unexpected "${token}" after ${id}; expected "exp:YYYY-MM-DD" or a # comment`,
        );
      entry.expires = m[1];
    }
    if (entry.id.startsWith(PACKAGE_PREFIX)) {
      const name = entry.id.slice(PACKAGE_PREFIX.length);
      if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name))
        throw new Error(
          `${source}:${i + 1}: "${entry.id}": expected pkg:<Debian package name>, e.g. pkg:libexpat1`,
        );
      if (!entry.expires)
        throw new Error(
          `${source}:${i + 1}: ${entry.id} accepts every finding in the package, so it needs an expiry: "${entry.id} exp:YYYY-MM-DD  # why"`,
        );
    }
    entries.push(entry);
  });
  return entries;
}

/** The IDs whose entries still apply on `today` (an entry applies through its expiry day). */
export function activeIgnores(entries: IgnoreEntry[], today: Date = new Date()): Set<string> {
  const day = today.toISOString().slice(0, 10);
  return new Set(entries.filter((e) => !e.expires || e.expires >= day).map((e) => e.id));
}
