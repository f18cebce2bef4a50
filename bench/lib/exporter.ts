/** Runs the compiled exporter (dist/scripts/metrics.js) as users do, and scrapes it over HTTP. */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, get, repoRoot, waitFor } from "../../test/helpers/proc.js";

/** Compiles scripts/ to dist/ so the benchmark measures what the image runs. */
export function build(): void {
  const r = spawnSync("npx", ["tsc", "-p", "tsconfig.build.json"], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  if (r.status !== 0) throw new Error("npm run build failed");
}

/** Exporters started here, killed if the benchmark dies half-way so none outlives it. */
const running = new Set<ChildProcess>();
process.on("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

/** A running exporter. */
export interface Exporter {
  proc: ChildProcess;
  url: string;
  stop(): Promise<void>;
}

/** The exporter `build()` compiles. */
export const BUILT = join(repoRoot, "dist", "scripts", "metrics.js");

/** Starts a compiled exporter (default: this tree's) on a free port over the given store env; resolves once /health answers. */
export async function startExporter(
  env: Record<string, string>,
  script = BUILT,
): Promise<Exporter> {
  const port = await freePort();
  const proc = spawn(process.execPath, [script], {
    env: {
      PATH: process.env.PATH,
      ...env,
      CODEX_METRICS_PORT: String(port),
      CODEX_METRICS_HOST: "127.0.0.1",
      CODEX_LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  running.add(proc);
  proc.once("exit", () => running.delete(proc));
  const url = `http://127.0.0.1:${port}`;
  await waitFor(async () => (await get(`${url}/health`)).status === 200, "exporter /health");
  const exit = new Promise<void>((r) => proc.once("exit", () => r()));
  return {
    proc,
    url,
    stop: async () => {
      proc.kill("SIGTERM");
      await exit;
    },
  };
}

/** GETs /metrics and returns the body, failing on a non-200. */
export async function scrape(e: Exporter): Promise<string> {
  const r = await get(`${e.url}/metrics`);
  if (r.status !== 200) throw new Error(`/metrics answered ${r.status}`);
  return r.body;
}

/** Peak resident set size of a process in MiB (VmHWM), from /proc. */
export function peakRssMiB(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

/** CPU time (user + system) a process has used so far, in milliseconds (10 ms resolution). */
export function cpuMs(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15, in clock ticks of 10 ms on Linux.
  return (Number(f[11]) + Number(f[12])) * 10;
}
