/**
 * The compose command and its arguments. Works with `docker compose` v2 and Debian's `docker-compose` v1.29;
 * both read the same Compose-spec files.
 */
import type { DockerClient } from "../../engine.js";

/** A compose invocation for one project and its files. */
export interface ComposeProject {
  /** argv prefix: ["docker", "compose"] or ["docker-compose"]. */
  bin: string[];
  /** Compose project name (`-p`). */
  project: string;
  /** Compose files, base first, overrides after. */
  files: string[];
}

/** The first compose that answers: `docker compose` (v2), then `docker-compose` (v1). */
export async function detectCompose(docker: DockerClient): Promise<string[]> {
  for (const bin of [["docker", "compose"], ["docker-compose"]]) {
    const r = await docker.exec([...bin, "version"]);
    if (r.exitCode === 0) return bin;
  }
  throw new Error(
    "deploy: no compose found. Install the compose v2 plugin (docker compose) or docker-compose (Debian: apt-get install docker-compose).",
  );
}

/** argv for `compose <args…>` on the project. */
export function composeArgs(c: ComposeProject, ...args: string[]): string[] {
  return [...c.bin, "-p", c.project, ...c.files.flatMap((f) => ["-f", f]), ...args];
}
