/**
 * Debian changelog entries (`usr/share/doc/<pkg>/changelog.Debian.gz`, deb-changelog(5)) and the CVE IDs
 * they name. The scan container cuts each changelog at the installed version with `dpkg --compare-versions`,
 * so what arrives here is exactly the entries the fixed version adds.
 */

/** One entry: `source (version) distributions; urgency=…`, its body and its trailer. */
export interface ChangelogEntry {
  source: string;
  version: string;
  distributions: string[];
  urgency?: string;
  /** The change lines between header and trailer. */
  body: string[];
  /** The trailer's date, as written. */
  date?: string;
}

const HEADER = /^(\w[\w.+-]*) \(([^ ()]+)\) ([^;]+);(.*)$/;
const TRAILER = /^ -- (.+?) <[^>]*> {1,2}(.+)$/;
const CVE = /\bCVE-\d{4}-\d{4,}\b/g;

/** Parses changelog text into entries, newest first; `source` names the text in errors. */
export function parseChangelog(text: string, source: string): ChangelogEntry[] {
  const entries: ChangelogEntry[] = [];
  let open: ChangelogEntry | undefined;
  for (const line of text.split(/\r?\n/)) {
    const header = HEADER.exec(line);
    if (header) {
      // A header before the last entry's trailer starts a new entry anyway, as dpkg-parsechangelog does.
      const urgency = /urgency=(\w+)/.exec(header[4] as string)?.[1];
      open = {
        source: header[1] as string,
        version: header[2] as string,
        distributions: (header[3] as string).trim().split(/\s+/),
        ...(urgency ? { urgency } : {}),
        body: [],
      };
      entries.push(open);
      continue;
    }
    const trailer = TRAILER.exec(line);
    if (trailer && open) {
      open.date = trailer[2] as string;
      open = undefined;
      continue;
    }
    if (open) open.body.push(line);
    // Lines outside entries (Emacs local variables, old-format history) carry no entries.
  }
  if (entries.length === 0 && text.trim() !== "")
    throw new Error(
      `${source}: no "package (version) suite; urgency=…" entry; not a Debian changelog`,
    );
  return entries;
}

/** The CVE IDs the entries name, each once, in the order they first appear. */
export function cveIds(entries: ChangelogEntry[]): string[] {
  const ids = new Set<string>();
  for (const e of entries)
    for (const line of e.body) for (const m of line.matchAll(CVE)) ids.add(m[0]);
  return [...ids];
}
