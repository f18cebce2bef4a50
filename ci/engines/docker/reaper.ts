/**
 * The run's reaper: a small process of its own that outlives the pipeline and, once the pipeline's process is
 * gone, removes whatever of the run is still in Docker. The pipeline cleans up after itself; the reaper covers
 * the cases where it cannot: a wrapper that SIGKILLs it (tsx does when its child is slow to acknowledge a
 * Ctrl-C: 30 ms, too little on a loaded machine), the OOM killer, a crash. The same idea as Testcontainers'
 * Ryuk, as a host process so that it needs no image and works against a remote daemon too.
 */
import { spawnDetached } from "../../lib/process.js";
import { RUN_LABEL } from "./cli.js";

/** Plain CommonJS for `node -e`: no loader, so it starts in milliseconds. Arguments: pid, run id, docker. */
const REAPER = `
const [pid, runId, docker] = process.argv.slice(1);
const { execFileSync } = require("node:child_process");
const alive = () => { try { process.kill(Number(pid), 0); return true; } catch (e) { return e.code === "EPERM"; } };
const list = (args) => {
  try {
    return execFileSync(docker, [...args, "--filter", "label=${RUN_LABEL}=" + runId], { encoding: "utf8" }).split("\\n").filter(Boolean);
  } catch { return []; }
};
const run = (args) => { try { execFileSync(docker, args, { stdio: "ignore" }); } catch {} };
const timer = setInterval(() => {
  if (alive()) return;
  clearInterval(timer);
  for (let i = 0; i < 3; i++) {
    const containers = list(["ps", "-aq"]);
    if (containers.length) run(["rm", "-f", "-v", ...containers]);
  }
  const networks = list(["network", "ls", "-q"]);
  if (networks.length) run(["network", "rm", ...networks]);
  const volumes = list(["volume", "ls", "-q"]);
  if (volumes.length) run(["volume", "rm", "-f", ...volumes]);
}, 250);
`;

/** Starts the reaper for this process's run. */
export function startReaper(dockerBin: string, runId: string, pid = process.pid): void {
  spawnDetached([process.execPath, "-e", REAPER, String(pid), runId, dockerBin]);
}
