/**
 * Benchmark of the healthcheck the image runs (the bundle `dist/scripts/healthcheck.cjs`, built by `npm run build`)
 * against `node -e 0`: median wall and CPU time of N runs each, interleaved, from a directory outside any git
 * repository (as the image's WORKDIR /app).
 *
 *   npx tsx bench/healthcheck.ts [--runs N] [--node /path/to/node] [--script dist/scripts/healthcheck.js]
 *
 * --node runs both sides with another Node binary (the image's, say); --script measures another build.
 * Times come from bash's `time` (getrusage of the child, in ms), so neither side pays for a wrapper's startup.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { writeState } from "../scripts/lib/state.js";
import { cleanup, repoRoot, tempDir } from "../test/helpers/proc.js";
import { healthyTree } from "../test/helpers/store.js";
import { load, ms, quantile } from "./lib/stats.js";

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    node: { type: "string", default: process.execPath },
    script: { type: "string", default: join("dist", "scripts", "healthcheck.cjs") },
  },
});
const runs = Number(opts.runs);
const node = resolve(opts.node);
const script = resolve(repoRoot, opts.script);

if (!existsSync("/bin/bash")) throw new Error("bench/healthcheck.ts needs bash for its `time`");

/** Wall and CPU (user + system) ms of one run of node with these args, timed by bash; fails loudly on a non-zero exit. */
function run(args: string[], env: NodeJS.ProcessEnv, cwd: string): { wall: number; cpu: number } {
  const r = spawnSync(
    "/bin/bash",
    ["-c", 'TIMEFORMAT="%3R %3U %3S"; time "$@" >/dev/null', "bash", node, ...args],
    {
      env,
      cwd,
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`node ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  const [real, user, sys] = (r.stderr.trim().split("\n").at(-1) ?? "").split(" ").map(Number);
  return { wall: (real ?? Number.NaN) * 1000, cpu: ((user ?? 0) + (sys ?? 0)) * 1000 };
}

const build = spawnSync("npm", ["run", "build", "--silent"], { cwd: repoRoot, stdio: "inherit" });
if (build.status !== 0) throw new Error("npm run build failed");
const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
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
  const hc = [script];
  const before = load();
  // Warm the page cache (and the healthcheck's record of `git --version`), then interleave so load changes hit
  // both sides alike.
  run(hc, env, root);
  run(["-e", "0"], env, root);
  const a: { wall: number; cpu: number }[] = [];
  const b: { wall: number; cpu: number }[] = [];
  for (let i = 0; i < runs; i++) {
    a.push(run(hc, env, root));
    b.push(run(["-e", "0"], env, root));
  }
  const med = (xs: { wall: number; cpu: number }[], k: "wall" | "cpu") =>
    quantile(
      xs.map((x) => x[k]),
      0.5,
    );
  console.log(
    `healthcheck (node ${opts.script}, Node ${version}, 4 checks, 1 live service), ${runs} runs each (${before} at start, ${load()} at end)`,
  );
  console.log(`  healthcheck median: ${ms(med(a, "wall"))} wall, ${ms(med(a, "cpu"))} CPU`);
  console.log(`  node -e 0 median:   ${ms(med(b, "wall"))} wall, ${ms(med(b, "cpu"))} CPU`);
  console.log(
    `  ratio:              ${(med(a, "wall") / med(b, "wall")).toFixed(2)}x wall, ${(med(a, "cpu") / med(b, "cpu")).toFixed(2)}x CPU   (target <= 1.3x, stretch 1.2x)`,
  );
} finally {
  srv.close();
  cleanup(root);
}
