/** Facts about the host the pipeline runs on: which docker client, what is on PATH. */
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

/** The first of `paths` that is executable, if any. */
function firstExecutable(paths: string[]): string | undefined {
  return paths.find((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** The full path of `bin` on PATH, if any. */
export function onPath(bin: string): string | undefined {
  return firstExecutable((process.env.PATH ?? "").split(delimiter).map((d) => join(d, bin)));
}

/**
 * The docker client to use: $CODEX_CI_DOCKER, else Debian's 20.10 client (BuildKit built in; the newer
 * client first on PATH here has no buildx), else whatever `docker` is on PATH.
 */
export const DOCKER_BIN: string =
  process.env.CODEX_CI_DOCKER ??
  firstExecutable(["/usr/bin/docker"]) ??
  onPath("docker") ??
  "docker";

/** The host's Docker socket. */
export const DOCKER_SOCKET = "/var/run/docker.sock";
