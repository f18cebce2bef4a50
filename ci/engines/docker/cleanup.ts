/** Removing what a run made: every container, network and volume with its label, and its build tags. */
import { sleep } from "zx";
import { type DockerCli, RUN_LABEL } from "./cli.js";

/** Lists ids of one kind of object with the run's label. */
async function labelled(docker: DockerCli, kind: "ps" | "network" | "volume", runId: string) {
  const filter = ["--filter", `label=${RUN_LABEL}=${runId}`];
  const args = kind === "ps" ? ["ps", "-aq", ...filter] : [kind, "ls", "-q", ...filter];
  const r = await docker.try(args, { kind: "short" });
  return r.stdout.split("\n").filter(Boolean);
}

/**
 * Removes the run's containers, networks, volumes and `tags`. Calls that make resources were waited for
 * before this runs, so listing by label finds everything; it lists until two passes in a row find nothing
 * (a removal in flight elsewhere can make a container reappear in one listing), bounded.
 */
export async function removeRun(docker: DockerCli, runId: string, tags: string[]): Promise<void> {
  let clean = 0;
  for (let i = 0; i < 40 && clean < 2; i++) {
    const containers = await labelled(docker, "ps", runId);
    if (containers.length === 0) clean += 1;
    else {
      clean = 0;
      await docker.try(["rm", "-f", "-v", ...containers], { kind: "short" });
    }
    if (clean < 2) await sleep(250);
  }
  const networks = await labelled(docker, "network", runId);
  if (networks.length) await docker.try(["network", "rm", ...networks], { kind: "short" });
  const volumes = await labelled(docker, "volume", runId);
  if (volumes.length) await docker.try(["volume", "rm", "-f", ...volumes], { kind: "short" });
  if (tags.length) await docker.try(["rmi", ...tags], { kind: "short" });
}
