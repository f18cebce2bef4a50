/**
 * Benchmark of the entrypoint's stop time: `start` mode with the exporter and an MCP stand-in that obeys SIGTERM,
 * then SIGTERM to the entrypoint; time until it has exited (all children stopped). Median and max of N rounds.
 *
 *   npx tsx bench/entrypoint.ts [--rounds N]
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { readState } from "../scripts/lib/state.js";
import { cleanup, freePort, get, repoRoot, tempDir, waitFor } from "../test/helpers/proc.js";
import { storeEnv } from "../test/helpers/store.js";
import { build } from "./lib/exporter.js";
import { load, ms, quantile } from "./lib/stats.js";

const { values: opts } = parseArgs({ options: { rounds: { type: "string", default: "5" } } });

/** Starts the compiled entrypoint, waits for both services, SIGTERMs it and returns the ms until it exited. */
async function round(root: string): Promise<number> {
  const e = storeEnv(root);
  const [metricsPort, mcpPort] = [await freePort(), await freePort()];
  const mcp = join(root, "mcp.cjs");
  writeFileSync(
    mcp,
    `const s = require("net").createServer().listen(${mcpPort}, "127.0.0.1");\nprocess.on("SIGTERM", () => s.close(() => process.exit(0)));\n`,
  );
  mkdirSync(join(root, "user"), { recursive: true });
  const env = {
    PATH: process.env.PATH,
    HOME: join(root, "user"),
    ...e,
    CODEX_METRICS_PORT: String(metricsPort),
    CODEX_METRICS_HOST: "127.0.0.1",
    MCP_SERVER_PORT: String(mcpPort),
    CODEX_MCP_COMMAND: `node ${mcp}`,
  };
  const p = spawn(process.execPath, [join(repoRoot, "dist", "scripts", "entrypoint.js"), "start"], {
    env,
    stdio: "ignore",
  });
  const exited = new Promise<number>((r) => p.once("exit", () => r(performance.now())));
  try {
    await waitFor(() => {
      const s = readState(join(e.CODEX_HOME, "run", "services.json"));
      return s && !(s instanceof Error) && s.services.length === 2;
    }, "services.json");
    await waitFor(
      async () => (await get(`http://127.0.0.1:${metricsPort}/health`)).status === 200,
      "exporter",
    );
    const t0 = performance.now();
    p.kill("SIGTERM");
    return (await exited) - t0;
  } finally {
    p.kill("SIGKILL");
  }
}

build();
const times: number[] = [];
const before = load();
for (let i = 0; i < Number(opts.rounds); i++) {
  const root = tempDir("bench-entry");
  try {
    times.push(await round(root));
  } finally {
    cleanup(root);
  }
}
console.log(
  `entrypoint stop time after SIGTERM (start mode, exporter + MCP stand-in), ${times.length} rounds (${before} at start, ${load()} at end)`,
);
console.log(
  `  median: ${ms(quantile(times, 0.5))}, max: ${ms(Math.max(...times))}   (target <= 1000 ms)`,
);
