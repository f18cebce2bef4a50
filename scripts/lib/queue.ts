/** Queue reader: the number of active tasks is the number of `$CODEX_HOME/queue/*.running` entries. */
import { readdirSync } from "node:fs";
import { fsError, type Problems } from "./problems.js";

/** Counts `*.running` entries that are not directories; 0 (and a problem) when the queue cannot be listed. */
export function countRunning(dir: string, problems: Problems): number {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter(
      (d) => d.name.endsWith(".running") && !d.isDirectory(),
    ).length;
  } catch (e) {
    problems.report("queue", `dir:${fsError(e)}`, `${dir}: cannot list (${fsError(e)})`);
    return 0;
  }
}
