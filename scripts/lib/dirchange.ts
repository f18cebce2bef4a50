/** When a directory must be listed again: the exporter's readers list a directory only when its entries may have changed. */
import { type Stats, statSync } from "node:fs";

/**
 * A listing is trusted only when it was taken more than this after the directory's mtime: on a filesystem with
 * coarse timestamps an entry added in the same tick as the listing leaves the mtime unchanged.
 */
export const DOUBT_MS = 1000;
/** The safety net: a full listing at least this often, whatever the mtime says (network filesystems, clock jumps). */
export const RESCAN_MS = 60_000;

/** What was true of the directory when it was last listed. */
interface Listed {
  ino: number;
  mtimeMs: number;
  /** When the stat before that listing was taken. */
  at: number;
}

/** Tracks one directory; `now` is the clock (injectable for tests). */
export class DirChanges {
  private listed: Listed | undefined;
  private pending: Listed | undefined;

  constructor(
    readonly dir: string,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Stats the directory (errors are thrown: ENOENT, ENOTDIR, EACCES ...) and says whether it must be listed again:
   * never listed, another inode, another mtime, an mtime too close to the last listing, or RESCAN_MS passed.
   * After listing, call listed(); after a failed listing, forget().
   */
  changed(): boolean {
    const at = this.now();
    const st: Stats = statSync(this.dir);
    if (!st.isDirectory())
      throw Object.assign(new Error(`${this.dir}: not a directory`), { code: "ENOTDIR" });
    const l = this.listed;
    this.pending = { ino: st.ino, mtimeMs: st.mtimeMs, at };
    return (
      !l ||
      l.ino !== st.ino ||
      l.mtimeMs !== st.mtimeMs ||
      l.at - l.mtimeMs <= DOUBT_MS ||
      at - l.at >= RESCAN_MS
    );
  }

  /** Records a successful listing, taken after the last changed(). */
  done(): void {
    this.listed = this.pending;
  }

  /** Forgets the last listing: the next changed() says yes. */
  forget(): void {
    this.listed = undefined;
  }
}
