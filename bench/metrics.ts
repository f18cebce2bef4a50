/**
 * Benchmark of the exporter (compiled, over HTTP): first scrape, steady scrapes, a scrape after changes, peak RSS.
 *
 *   npx tsx bench/metrics.ts [--baseline] [--design <file>] [--sessions N] [--lines N]
 *
 * --baseline also times the design's bash collector on 1,000 sessions / 10,000 log lines and prints the ratios.
 */
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cleanup, sample, tempDir } from "../test/helpers/proc.js";
import { generateStore, type StoreTotals, storeEnv } from "../test/helpers/store.js";
import { extractCollector, findDesign, runCollector } from "./lib/baseline.js";
import { build, cpuMs, type Exporter, peakRssMiB, scrape, startExporter } from "./lib/exporter.js";
import { load, ms, quantile, timed } from "./lib/stats.js";

const { values: opts } = parseArgs({
  options: {
    baseline: { type: "boolean", default: false },
    design: { type: "string" },
    sessions: { type: "string", default: "10000" },
    lines: { type: "string", default: "1000000" },
    steady: { type: "string", default: "50" },
  },
});
const SPEC = {
  sessions: Number(opts.sessions),
  queue: 200,
  gitState: 1000,
  mcpLines: Number(opts.lines),
};

/** Checks a scrape against the generated totals, so a fast wrong answer cannot pass. */
function verify(
  body: string,
  t: StoreTotals,
  extra = { completed: 0, requests: 0, errors: 0 },
): void {
  const want: [string, number][] = [
    ['codex_sessions{state="completed"}', t.completed + extra.completed],
    ['codex_sessions{state="failed"}', t.failed],
    ["codex_queue_active_tasks", t.queue],
    ['codex_git_operations_total{status="ok"}', t.gitOk],
    ["codex_mcp_requests_total", t.mcpRequests + extra.requests],
    ["codex_mcp_errors_total", t.mcpErrors + extra.errors],
  ];
  for (const [series, v] of want) {
    const got = sample(body, series);
    if (got !== v) throw new Error(`wrong value: ${series} is ${got}, expected ${v}`);
  }
}

/** First scrape, then `n` steady scrapes; returns their wall times and the exporter's CPU time. */
async function scrapes(e: Exporter, t: StoreTotals, n: number) {
  const pid = e.proc.pid as number;
  const c0 = cpuMs(pid);
  const first = await timed(() => scrape(e));
  const c1 = cpuMs(pid);
  verify(first.value, t);
  const steady: number[] = [];
  for (let i = 0; i < n; i++) steady.push((await timed(() => scrape(e))).ms);
  return { first: first.ms, firstCpu: c1 - c0, steady, steadyCpu: (cpuMs(pid) - c1) / n };
}

build();
const root = tempDir("bench-metrics");
try {
  console.log(
    `generating ${SPEC.sessions} sessions, ${SPEC.queue} queue files, ${SPEC.gitState} git-state files, ${SPEC.mcpLines} MCP log lines...`,
  );
  const gen = await timed(async () => generateStore(root, SPEC));
  const totals = gen.value;
  const env = storeEnv(root);
  console.log(`  generated in ${ms(gen.ms)}`);
  const e = await startExporter(env);
  const loadBefore = load();
  const { first, firstCpu, steady, steadyCpu } = await scrapes(e, totals, Number(opts.steady));

  // 100 running sessions finish, 10,000 lines arrive (every 4th an error, the rest timed requests).
  let changed = 0;
  for (let i = 2; changed < 100; i += 3, changed++) {
    appendFileSync(
      join(env.CODEX_SESSIONS_ROOT, `cdx-${String(i).padStart(6, "0")}`, "job.log"),
      "CONTROL: DONE\n",
    );
  }
  const lines: string[] = [];
  for (let i = 0; i < 10_000; i++)
    lines.push(i % 4 === 0 ? "x MCP Error boom" : `x MCP Request id=${i} duration:0.0${i % 10}`);
  appendFileSync(env.CODEX_MCP_LOG, `${lines.join("\n")}\n`);
  const after = await timed(() => scrape(e));
  verify(after.value, totals, { completed: 100, requests: 7500, errors: 2500 });
  const rss = peakRssMiB(e.proc.pid as number);
  await e.stop();

  console.log(
    `\nexporter: node dist/scripts/metrics.js scraped over HTTP (${loadBefore} at start, ${load()} at end)`,
  );
  console.log(
    `  first scrape:            ${ms(first)} wall, ${ms(firstCpu)} CPU   (target <= 2000 ms)`,
  );
  const [p50, p95] = [quantile(steady, 0.5), quantile(steady, 0.95)];
  console.log(
    `  steady scrape p50 / p95: ${ms(p50)} / ${ms(p95)} wall (n=${steady.length}), ${ms(steadyCpu)} CPU mean   (target p95 <= 50 ms)`,
  );
  console.log(`  after 100 sessions + 10,000 lines: ${ms(after.ms)}`);
  console.log(`  peak RSS (VmHWM):                ${rss.toFixed(1)} MiB   (target <= 120 MB)`);

  if (opts.baseline) {
    const design = findDesign(opts.design);
    const small = { sessions: 1000, queue: 200, gitState: 1000, mcpLines: 10_000 };
    const broot = join(root, "baseline-store");
    const bt = generateStore(broot, small);
    const benv = storeEnv(broot);
    console.log(
      `\nbaseline: bash collector from ${design}, on ${small.sessions} sessions / ${small.mcpLines} lines / ${small.queue} queue / ${small.gitState} git-state (this takes a while)...`,
    );
    const bash = runCollector(extractCollector(design), broot, benv);
    if (bash.code !== 0 || !/codex_mcp_requests_total \d+/.test(bash.out))
      throw new Error(`bash collector failed (exit ${bash.code})`);
    const be = await startExporter(benv);
    const ours = await scrapes(be, bt, Number(opts.steady));
    await be.stop();
    const p50 = quantile(ours.steady, 0.5);
    console.log(`  bash collector:       ${ms(bash.ms)}`);
    console.log(
      `  exporter first scrape: ${ms(ours.first)}  -> ${(bash.ms / ours.first).toFixed(0)}x faster (target >= 200x)`,
    );
    console.log(
      `  exporter steady p50:   ${ms(p50)}  -> ${(bash.ms / p50).toFixed(0)}x faster (target >= 1000x)`,
    );
  }
} finally {
  cleanup(root);
}
