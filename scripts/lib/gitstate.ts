/** Git-state reader: counts each `$CODEX_HOME/git-state/*.json` once, by its `status` (`ok` or `failed`). */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { DirChanges } from "./dirchange.js";
import { fsError, type Problems } from "./problems.js";

export type GitStatus = "ok" | "failed";

/** The `status` of a git-state file: ok/failed, "pending" for any other value (still in progress), or an Error when malformed. */
export function parseGitState(text: string): GitStatus | "pending" | Error {
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch (e) {
    return new Error(`corrupt JSON (${(e as Error).message})`);
  }
  if (typeof o !== "object" || o === null || Array.isArray(o))
    return new Error("not a JSON object");
  const status = (o as { status?: unknown }).status;
  return status === "ok" || status === "failed" ? status : "pending";
}

/** A git-state file is small; a bigger one is not one. */
const MAX_STATE_BYTES = 1024 * 1024;

/**
 * Remembers which git-state files were counted, and which versions were unreadable. The directory is listed again
 * only when it may have changed (DirChanges); otherwise only the files not counted yet are looked at.
 */
export class GitStateReader {
  private counted = new Set<string>();
  private pending = new Map<string, string>();
  private readonly changes: DirChanges;

  /** @param dir `$CODEX_HOME/git-state`; @param problems where bad files go (source "git-state"); @param now the clock. */
  constructor(
    private readonly dir: string,
    private readonly problems: Problems,
    now?: () => number,
  ) {
    this.changes = new DirChanges(dir, now);
  }

  /** Reads files not yet counted and calls `seen` once per finished operation. */
  refresh(seen: (status: GitStatus) => void): void {
    let names: string[];
    try {
      if (this.changes.changed()) {
        names = readdirSync(this.dir).filter((n) => n.endsWith(".json"));
        this.changes.done();
        const present = new Set(names);
        // A file removed and written again is a new operation.
        for (const n of this.counted) if (!present.has(n)) this.counted.delete(n);
        for (const n of this.pending.keys()) if (!present.has(n)) this.pending.delete(n);
      } else {
        names = [...this.pending.keys()];
      }
    } catch (e) {
      this.changes.forget();
      this.problems.report(
        "git-state",
        `dir:${fsError(e)}`,
        `${this.dir}: cannot list (${fsError(e)})`,
      );
      return;
    }
    for (const name of names) {
      if (this.counted.has(name)) continue;
      const path = `${this.dir}/${name}`;
      try {
        const st = statSync(path);
        const version = `${st.ino}:${st.size}:${st.mtimeMs}`;
        if (this.pending.get(name) === version) continue;
        this.pending.set(name, version);
        if (!st.isFile() || st.size > MAX_STATE_BYTES) {
          this.problems.report(
            "git-state",
            `${path}:${version}`,
            `${path}: not a small regular file, skipped`,
          );
          continue;
        }
        const status = parseGitState(readFileSync(path, "utf8"));
        if (status instanceof Error) {
          this.problems.report("git-state", `${path}:${version}`, `${path}: ${status.message}`);
        } else if (status !== "pending") {
          this.counted.add(name);
          this.pending.delete(name);
          seen(status);
        }
      } catch (e) {
        this.problems.report(
          "git-state",
          `${path}:${fsError(e)}`,
          `${path}: unreadable (${fsError(e)})`,
        );
      }
    }
  }
}
