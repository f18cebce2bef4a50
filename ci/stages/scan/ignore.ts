/**
 * `.trivyignore` in Trivy's plain format: one ID per line, `#` comments, and an optional
 * `exp:YYYY-MM-DD` after the ID after which the entry no longer applies.
 *
 * Trivy applies the file itself (the scan stage passes `--ignorefile`); the gate applies it
 * again to the JSON so a report from any Trivy run is judged by the same file.
 */

/** One accepted risk. */
export interface IgnoreEntry {
  id: string;
  /** Last day (UTC) the entry applies; undefined means no expiry. */
  expires?: string;
  line: number;
}

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
    entries.push(entry);
  });
  return entries;
}

/** The IDs whose entries still apply on `today` (an entry applies through its expiry day). */
export function activeIgnores(entries: IgnoreEntry[], today: Date = new Date()): Set<string> {
  const day = today.toISOString().slice(0, 10);
  return new Set(entries.filter((e) => !e.expires || e.expires >= day).map((e) => e.id));
}
