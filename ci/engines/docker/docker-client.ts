/** Deploy commands on the Docker engine: the local docker client, in the repo root so compose paths resolve. */
import { readFileSync } from "node:fs";
import type { DockerClient, DockerClientSpec } from "../../engine.js";
import { exec } from "../../lib/process.js";

/** Runs `docker …` as `dockerBin …` (and `docker-compose` as is), with the stack's secrets in its env. */
export function localDockerClient(dockerBin: string, spec: DockerClientSpec): DockerClient {
  const secrets: Record<string, string> = {};
  for (const [k, s] of Object.entries(spec.secrets))
    secrets[k] = s.value ?? readFileSync(s.file, "utf8").trimEnd();
  const argv = (args: string[]) => (args[0] === "docker" ? [dockerBin, ...args.slice(1)] : args);
  return {
    exec: (args, opts = {}) =>
      exec(argv(args), {
        cwd: spec.root,
        env: { ...secrets, ...opts.env },
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      }),
    load: (tarball) => exec([dockerBin, "load", "-i", tarball]),
  };
}
