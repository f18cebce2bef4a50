/** Queue reader: the number of active tasks is the number of `$CODEX_HOME/queue/*.running` entries. */
import { readdirSync } from "node:fs";
import { DirChanges } from "./dirchange.js";
import { fsError, type Problems } from "./problems.js";

/** Counts `*.running` entries that are not directories, listing the queue again only when it may have changed. */
export class QueueReader {
  private readonly dir: DirChanges;
  private running = 0;

  /** @param dir `$CODEX_HOME/queue`; @param problems where a queue that cannot be listed goes (source "queue"). */
  constructor(
    dir: string,
    private readonly problems: Problems,
    now?: () => number,
  ) {
    this.dir = new DirChanges(dir, now);
  }

  /** The count now; 0 (and a problem) when the queue cannot be listed. */
  count(): number {
    try {
      if (this.dir.changed()) {
        this.running = readdirSync(this.dir.dir, { withFileTypes: true }).filter(
          (d) => d.name.endsWith(".running") && !d.isDirectory(),
        ).length;
        this.dir.done();
      }
      return this.running;
    } catch (e) {
      this.dir.forget();
      this.problems.report(
        "queue",
        `dir:${fsError(e)}`,
        `${this.dir.dir}: cannot list (${fsError(e)})`,
      );
      return 0;
    }
  }
}
