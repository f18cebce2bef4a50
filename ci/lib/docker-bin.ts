/** Which docker client the pipeline drives. */
import { accessSync, constants } from "node:fs";
import { findOnPath } from "./which.js";

/** Debian's client: 20.10 with BuildKit built in. A newer client without the buildx plugin refuses BuildKit builds. */
const DEBIAN_CLIENT = "/usr/bin/docker";

/** The host's Docker socket. */
export const DOCKER_SOCKET = "/var/run/docker.sock";

const executable = (p: string) => {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** `CODEX_CI_DOCKER`, else Debian's client, else the `docker` first on PATH. */
export async function chooseDockerBin(env: NodeJS.ProcessEnv): Promise<string> {
  if (env.CODEX_CI_DOCKER) return env.CODEX_CI_DOCKER;
  if (executable(DEBIAN_CLIENT)) return DEBIAN_CLIENT;
  return (await findOnPath("docker", env.PATH)) ?? "docker";
}
