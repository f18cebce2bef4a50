/** A lock directory, so two `images --offline` runs on one host take turns instead of racing on the cache. */
import { fs, path, sleep } from "zx";

/** True when a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Takes `<dir>/.lock` (waiting while a live process holds it, taking it over from a dead one); returns the release function. */
export async function acquireLock(
  dir: string,
  log: (line: string) => void,
): Promise<() => Promise<void>> {
  const lock = path.join(dir, ".lock");
  const owner = path.join(lock, "pid");
  let waiting = false;
  for (;;) {
    try {
      await fs.mkdir(lock);
      await fs.writeFile(owner, String(process.pid));
      return () => fs.rm(lock, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const pid = Number(await fs.readFile(owner, "utf8").catch(() => "0"));
    if (pid > 0 && !alive(pid)) {
      await fs.rm(lock, { recursive: true, force: true });
      continue;
    }
    if (!waiting) log(`waiting for another images run (pid ${pid || "?"}) to finish`);
    waiting = true;
    await sleep(1000);
  }
}
