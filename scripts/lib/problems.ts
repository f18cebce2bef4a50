/** Bad-input bookkeeping for the exporter: each distinct problem is counted and logged once while it lasts. */

/** Called once per new problem, with its source label (e.g. "sessions") and a message naming the file. */
export type OnProblem = (source: string, message: string) => void;

/** Tracks problems seen during a refresh; a problem still present on the next refresh is not reported again. */
export class Problems {
  private active = new Set<string>();
  private seen = new Set<string>();

  /** @param onNew receives each problem the first time it shows up. */
  constructor(private readonly onNew: OnProblem) {}

  /** Reports a problem; key identifies it (path plus what changed), so a fixed-then-broken file counts again. */
  report(source: string, key: string, message: string): void {
    const k = `${source}\0${key}`;
    this.seen.add(k);
    if (this.active.has(k)) return;
    this.active.add(k);
    this.onNew(source, message);
  }

  /** Ends a refresh: problems not seen in it are forgotten, so a recurrence counts again. */
  sweep(): void {
    this.active = this.seen;
    this.seen = new Set();
  }
}

/** Short text of a filesystem error: its code when it has one. */
export function fsError(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err?.code ? `${err.code}` : String((e as Error)?.message ?? e);
}
