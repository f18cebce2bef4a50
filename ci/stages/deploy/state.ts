/** The record of what is deployed: `reports/deploy/<project>.json`, written atomically. */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeJsonAtomic } from "../../lib/files.js";

/** One deploy attempt. */
export interface DeployEvent {
  image: string;
  at: string;
  /** rollback-failed: the image failed and the previous one, brought back, was not healthy either. */
  result: "deployed" | "rolled-back" | "rollback-failed" | "failed";
}

/** What the file holds. */
export interface DeployState {
  project: string;
  environment: string;
  /** The image now serving (after a rollback, the previous one; after a failed rollback, the one to go back to). */
  image: string;
  /** Newest last, at most 20. */
  history: DeployEvent[];
}

/** The state file of a compose project under `root`. */
export function stateFile(root: string, project: string): string {
  return join(root, "reports", "deploy", `${project}.json`);
}

/** Reads the state, or undefined when nothing was deployed yet. */
export async function readState(file: string): Promise<DeployState | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as DeployState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(
      `${file}: unreadable deploy record (${(e as Error).message}); fix or delete it`,
    );
  }
}

/** Appends an event and sets the serving image; a temp file and rename, so it is never half-written. */
export async function recordDeploy(
  file: string,
  base: { project: string; environment: string },
  serving: string,
  event: DeployEvent,
): Promise<DeployState> {
  const old = await readState(file).catch(() => undefined);
  const state: DeployState = {
    ...base,
    image: serving,
    history: [...(old?.history ?? []), event].slice(-20),
  };
  await writeJsonAtomic(file, state);
  return state;
}
