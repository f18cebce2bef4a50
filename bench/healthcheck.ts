/**
 * Benchmark of the compiled healthcheck against `node -e 0`: median wall time of N runs each, interleaved.
 *
 *   npx tsx bench/healthcheck.ts [--runs N]
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { writeState } from "../scripts/lib/state.js";
import { cleanup, repoRoot, tempDir } from "../test/helpers/proc.js";
import { healthyTree } from "../test/helpers/store.js";
import { build } from "./lib/exporter.js";
import { load, ms, quantile } from "./lib/stats.js";

const { values: opts } = parseArgs({ options: { runs: { type: "string", default: "30" } } });
const runs = Number(opts.runs);

/** True when GNU time is there to report CPU time including child processes (git). */
const gnuTime = existsSync("/usr/bin/time");

/** Wall and CPU (user + system, children included) ms of one run of node with these args; fails loudly on a non-zero exit. */
function run(args: string[], env: NodeJS.ProcessEnv): { wall: number; cpu: number } {
  const [cmd, argv] = gnuTime
    ? ["/usr/bin/time", ["-f", "%U %S", process.execPath, ...args]]
    : [process.execPath, args];
  const t0 = performance.now();
  const r = spawnSync(cmd as string, argv as string[], { env, encoding: "utf8" });
  const wall = performance.now() - t0;
  if (r.status !== 0)
    throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stdout}${r.stderr}`);
  const [u, sys] = (r.stderr.trim().split("\n").at(-1) ?? "").split(" ").map(Number);
  return { wall, cpu: gnuTime ? ((u ?? 0) + (sys ?? 0)) * 1000 : Number.NaN };
}

build();
const root = tempDir("bench-health");
// A service that is alive and listening, as in a running container: the services check dials it.
const srv = createServer().listen(0, "127.0.0.1");
await new Promise((r) => srv.once("listening", r));
try {
  const e = healthyTree(root);
  const addr = srv.address();
  writeState(join(e.CODEX_HOME, "run", "services.json"), {
    version: 1,
    mode: "start",
    entrypointPid: process.pid,
    updatedAt: new Date().toISOString(),
    services: [
      {
        name: "metrics",
        pid: process.pid,
        port: typeof addr === "object" && addr ? addr.port : 0,
        host: "0.0.0.0",
      },
    ],
  });
  const env = {
    PATH: process.env.PATH,
    ...e,
    // As in the image: the identity comes from the environment, which the entrypoint wrote to git.
    GIT_USER_NAME: "B",
    GIT_USER_EMAIL: "b@example.com",
  };
  const hc = [join(repoRoot, "dist", "scripts", "healthcheck.js")];
  const before = load();
  // Warm the page cache for both, then interleave so load changes hit both sides alike.
  run(hc, env);
  run(["-e", "0"], env);
  const a: { wall: number; cpu: number }[] = [];
  const b: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < runs; i++) {
    a.push(run(hc, env));
    b.push(run(["-e", "0"], env));
  }
  const med = (xs: { wall: number; cpu: number }[], k: "wall" | "cpu") =>
    quantile(
      xs.map((x) => x[k]),
      0.5,
    );
  console.log(
    `healthcheck (node dist/scripts/healthcheck.js, 4 checks, 1 live service), ${runs} runs each (${before} at start, ${load()} at end)`,
  );
  console.log(
    `  healthcheck median: ${ms(med(a, "wall"))} wall, ${ms(med(a, "cpu"))} CPU (with git children)`,
  );
  console.log(`  node -e 0 median:   ${ms(med(b, "wall"))} wall, ${ms(med(b, "cpu"))} CPU`);
  console.log(
    `  ratio:              ${(med(a, "wall") / med(b, "wall")).toFixed(2)}x wall, ${(med(a, "cpu") / med(b, "cpu")).toFixed(2)}x CPU   (target <= 2x)`,
  );
} finally {
  srv.close();
  cleanup(root);
}
