/**
 * Where the healthcheck's CPU time goes beyond bare Node: an instrumented copy of it (the same checks, bundled the
 * way `npm run build` bundles the real one) runs each check alone, in turn, and reports process.cpuUsage() (all
 * threads) per phase. Medians of N runs, beside `node -e 0`.
 *
 *   npx tsx bench/healthcheck-profile.ts [--runs N] [--node /path/to/node]
 */
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { build } from "esbuild";
import { writeState } from "../scripts/lib/state.js";
import { cleanup, repoRoot, tempDir } from "../test/helpers/proc.js";
import { healthyTree } from "../test/helpers/store.js";
import { load, quantile } from "./lib/stats.js";

const { values: opts } = parseArgs({
  options: {
    runs: { type: "string", default: "30" },
    node: { type: "string", default: process.execPath },
  },
});
const node = resolve(opts.node);

/** The instrumented entry: CPU ms at entry (Node's own startup and loading this file), then per phase. */
const ENTRY = `
const cpu = () => { const c = process.cpuUsage(); return (c.user + c.system) / 1000; };
const atEntry = cpu();
import { writeSync } from "node:fs";
import { CHECKS } from ${JSON.stringify(join(repoRoot, "scripts", "lib", "checks.ts"))};
import { parseEnv, type RuntimeEnv } from ${JSON.stringify(join(repoRoot, "scripts", "lib", "env.ts"))};
async function main() {
  const out: Record<string, number> = { "startup + load": atEntry };
  let t = cpu();
  const parsed = parseEnv(process.env);
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  out.parseEnv = cpu() - t;
  for (const [name, check] of Object.entries(CHECKS)) {
    t = cpu();
    await check(parsed.env as RuntimeEnv);
    out[\`check \${name}\`] = cpu() - t;
  }
  out.total = cpu();
  writeSync(2, JSON.stringify(out));
  process.exit(0);
}
void main();
`;

const root = tempDir("bench-hc-profile");
const srv = createServer().listen(0, "127.0.0.1");
await new Promise((r) => srv.once("listening", r));
try {
  const entry = join(root, "profile-entry.ts");
  writeFileSync(entry, ENTRY);
  const bundle = join(root, "profile.cjs");
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    outfile: bundle,
    logLevel: "warning",
  });
  const e = healthyTree(join(root, "tree"));
  const addr = srv.address();
  writeState(join(e.CODEX_HOME, "run", "services.json"), {
    version: 1,
    mode: "start",
    entrypointPid: process.pid,
    updatedAt: new Date().toISOString(),
    services: [
      { name: "metrics", pid: process.pid, port: typeof addr === "object" && addr ? addr.port : 0 },
    ],
  });
  const env = { PATH: process.env.PATH, ...e, GIT_USER_NAME: "B", GIT_USER_EMAIL: "b@example.com" };
  const cwd = join(root, "tree");
  /** One run's phases. */
  const once = (): Record<string, number> => {
    const r = spawnSync(node, [bundle], { env, cwd, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`profile run exited ${r.status}: ${r.stderr}`);
    return JSON.parse(r.stderr) as Record<string, number>;
  };
  /** CPU ms of `node -e 0`, from inside (at exit), as the entry measures itself. */
  const bare = (): number =>
    Number(
      spawnSync(
        node,
        [
          "-e",
          "const c = process.cpuUsage(); process.stderr.write(String((c.user + c.system) / 1000))",
        ],
        { env, cwd, encoding: "utf8" },
      ).stderr,
    );
  once();
  const before = load();
  const rows: Record<string, number>[] = [];
  const bares: number[] = [];
  for (let i = 0; i < Number(opts.runs); i++) {
    rows.push(once());
    bares.push(bare());
  }
  const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
  console.log(
    `healthcheck CPU profile, Node ${version}, medians of ${rows.length} runs (${before} at start, ${load()} at end)`,
  );
  console.log(`  ${"node -e 0 (whole process)".padEnd(26)} ${quantile(bares, 0.5).toFixed(1)} ms`);
  for (const k of Object.keys(rows[0] ?? {}))
    console.log(
      `  ${k.padEnd(26)} ${quantile(
        rows.map((r) => r[k] ?? Number.NaN),
        0.5,
      ).toFixed(1)} ms`,
    );
} finally {
  srv.close();
  cleanup(root);
}
