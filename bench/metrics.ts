/**
 * Benchmark of the exporter (compiled, over HTTP): first scrape, steady scrapes, a scrape after changes, peak RSS,
 * on two stores of the same size: one session in three running (a harsh mix), and 60 running (a real one).
 *
 *   npx tsx bench/metrics.ts [--before <git ref>] [--baseline] [--design <file>] [--sessions N] [--lines N]
 *                            [--running N] [--steady N] [--firsts N]
 *
 * --before <ref> also builds the exporter of that commit and measures it on copies of the same stores, in the
 *   same run (so under the same load), printing its figures next to this tree's.
 * The first scrape is timed --firsts times (default 3) per exporter, interleaved, and the median is printed: a single
 *   one on a shared machine says more about the neighbours than about the exporter.
 * --baseline also times the design's bash collector on 1,000 sessions / 10,000 log lines and prints the ratios.
 */
import { execFileSync } from "node:child_process";
import { appendFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { cleanup, sample, tempDir } from "../test/helpers/proc.js";
import {
  generateStore,
  runningSessions,
  type StoreSpec,
  type StoreTotals,
  sessionName,
  storeEnv,
} from "../test/helpers/store.js";
import { extractCollector, findDesign, runCollector } from "./lib/baseline.js";
import { buildRef } from "./lib/before.js";
import {
  BUILT,
  build,
  cpuMs,
  type Exporter,
  peakRssMiB,
  scrape,
  startExporter,
} from "./lib/exporter.js";
import { load, ms, quantile, timed } from "./lib/stats.js";

const { values: opts } = parseArgs({
  options: {
    before: { type: "string" },
    baseline: { type: "boolean", default: false },
    design: { type: "string" },
    sessions: { type: "string", default: "10000" },
    lines: { type: "string", default: "1000000" },
    running: { type: "string", default: "60" },
    steady: { type: "string", default: "50" },
    firsts: { type: "string", default: "3" },
  },
});
const SIZE = {
  sessions: Number(opts.sessions),
  queue: 200,
  gitState: 1000,
  mcpLines: Number(opts.lines),
};
const STEADY = Number(opts.steady);
const FIRSTS = Number(opts.firsts);
const TARGET = { firstMs: 1000, p95Ms: 10, rssMiB: 100 };

/** Checks a scrape against the generated totals, so a fast wrong answer cannot pass. */
function verify(
  body: string,
  t: StoreTotals,
  extra = { completed: 0, requests: 0, errors: 0 },
): void {
  const want: [string, number][] = [
    ['codex_sessions{state="running"}', t.running - extra.completed],
    ['codex_sessions{state="completed"}', t.completed + extra.completed],
    ['codex_sessions{state="failed"}', t.failed],
    ['codex_tasks_finished_total{result="completed"}', t.completed + extra.completed],
    ["codex_task_duration_seconds_count", t.completed + t.failed],
    ["codex_queue_active_tasks", t.queue],
    ['codex_git_operations_total{status="ok"}', t.gitOk],
    ["codex_mcp_requests_total", t.mcpRequests + extra.requests],
    ["codex_mcp_errors_total", t.mcpErrors + extra.errors],
    ["codex_mcp_request_duration_seconds_count", t.mcpRequests + extra.requests],
  ];
  for (const [series, v] of want) {
    const got = sample(body, series);
    if (got !== v) throw new Error(`wrong value: ${series} is ${got}, expected ${v}`);
  }
}

/** Figures of one exporter on one store. */
interface Figures {
  first: number;
  firstCpu: number;
  p50: number;
  p95: number;
  steadyCpu: number;
  finished: number;
  after: number;
  rss: number;
}

/** Median first scrape (wall, CPU) of each exporter on a store, starting each afresh FIRSTS times, interleaved. */
async function firstScrapes(scripts: string[], root: string, t: StoreTotals) {
  const runs = scripts.map(() => ({ wall: [] as number[], cpu: [] as number[] }));
  for (let r = 0; r < FIRSTS; r++) {
    for (const [v, script] of scripts.entries()) {
      const e = await startExporter(storeEnv(root), script);
      try {
        const c0 = cpuMs(e.proc.pid as number);
        const first = await timed(() => scrape(e));
        runs[v]?.cpu.push(cpuMs(e.proc.pid as number) - c0);
        runs[v]?.wall.push(first.ms);
        verify(first.value, t);
      } finally {
        await e.stop();
      }
    }
  }
  return runs.map((x) => ({ wall: quantile(x.wall, 0.5), cpu: quantile(x.cpu, 0.5) }));
}

/** Runs one exporter on a store: first scrape, steady scrapes, then some sessions finish and 10,000 lines arrive. */
async function measure(script: string, root: string, spec: StoreSpec, t: StoreTotals) {
  const env = storeEnv(root);
  const e: Exporter = await startExporter(env, script);
  try {
    const pid = e.proc.pid as number;
    const c0 = cpuMs(pid);
    const first = await timed(() => scrape(e));
    const c1 = cpuMs(pid);
    verify(first.value, t);
    const steady: number[] = [];
    for (let i = 0; i < STEADY; i++) steady.push((await timed(() => scrape(e))).ms);
    const steadyCpu = (cpuMs(pid) - c1) / STEADY;
    // Half the running sessions (at most 100) finish; 10,000 lines arrive (every 4th an error, the rest timed requests).
    const running = runningSessions(spec);
    const finishing = running.slice(0, Math.min(100, Math.floor(running.length / 2)));
    for (const i of finishing)
      appendFileSync(join(env.CODEX_SESSIONS_ROOT, sessionName(i), "job.log"), "CONTROL: DONE\n");
    const lines: string[] = [];
    for (let i = 0; i < 10_000; i++)
      lines.push(i % 4 === 0 ? "x MCP Error boom" : `x MCP Request id=${i} duration:0.0${i % 10}`);
    appendFileSync(env.CODEX_MCP_LOG, `${lines.join("\n")}\n`);
    const after = await timed(() => scrape(e));
    verify(after.value, t, { completed: finishing.length, requests: 7500, errors: 2500 });
    const figures: Figures = {
      first: first.ms,
      firstCpu: c1 - c0,
      p50: quantile(steady, 0.5),
      p95: quantile(steady, 0.95),
      steadyCpu,
      finished: finishing.length,
      after: after.ms,
      rss: peakRssMiB(pid),
    };
    return figures;
  } finally {
    await e.stop();
  }
}

/** One table row: a label, a cell per exporter, the target. */
function row(label: string, cells: string[], target = ""): string {
  return `  ${label.padEnd(42)}${cells.map((c) => c.padEnd(26)).join("")}${target}`;
}

build();
const variants = [{ label: "now", script: BUILT }];
if (opts.before) {
  const b = buildRef(opts.before);
  variants.push({ label: `before (${b.commit})`, script: b.script });
}
const root = tempDir("bench-metrics");
try {
  const stores: { title: string; spec: StoreSpec }[] = [
    { title: "one session in three running", spec: { ...SIZE } },
    {
      title: `steady scrape with ${opts.running} running out of ${SIZE.sessions.toLocaleString("en")}`,
      spec: { ...SIZE, running: Number(opts.running) },
    },
  ];
  console.log(
    `stores: ${SIZE.sessions} sessions, ${SIZE.queue} queue files, ${SIZE.gitState} git-state files, ${SIZE.mcpLines} MCP log lines`,
  );
  const results: { title: string; t: StoreTotals; figures: Figures[] }[] = [];
  const loadBefore = load();
  for (const [k, store] of stores.entries()) {
    const template = join(root, `store-${k}`);
    const gen = await timed(async () => generateStore(template, store.spec));
    console.log(`  generated "${store.title}" in ${ms(gen.ms)}`);
    // The first scrapes only read the store: they run on the template.
    const firsts = await firstScrapes(
      variants.map((v) => v.script),
      template,
      gen.value,
    );
    const figures: Figures[] = [];
    for (const [v, variant] of variants.entries()) {
      // Each exporter gets its own copy: the measurement changes the store.
      const copy = join(root, `store-${k}-${v}`);
      execFileSync("cp", ["-a", template, copy]);
      const f = await measure(variant.script, copy, store.spec, gen.value);
      figures.push({
        ...f,
        first: firsts[v]?.wall ?? f.first,
        firstCpu: firsts[v]?.cpu ?? f.firstCpu,
      });
      cleanup(copy);
    }
    cleanup(template);
    results.push({ title: store.title, t: gen.value, figures });
  }

  console.log(
    `\nexporter: compiled, scraped over HTTP (${loadBefore} at start, ${load()} at end); every figure checked against the store's totals`,
  );
  console.log(
    row(
      "",
      variants.map((v) => v.label),
      "target",
    ),
  );
  for (const r of results) {
    console.log(`${r.title} (${r.t.running} running)`);
    const f = r.figures;
    console.log(
      row(
        `first scrape, wall (CPU), median/${FIRSTS}`,
        f.map((x) => `${ms(x.first)} (${ms(x.firstCpu)})`),
        `<= ${TARGET.firstMs} ms`,
      ),
    );
    console.log(
      row(
        `steady p50 / p95, wall (n=${STEADY})`,
        f.map((x) => `${ms(x.p50)} / ${ms(x.p95)}`),
        `p95 <= ${TARGET.p95Ms} ms`,
      ),
    );
    console.log(
      row(
        "steady CPU per scrape (mean)",
        f.map((x) => ms(x.steadyCpu)),
      ),
    );
    console.log(
      row(
        `after ${f[0]?.finished} finish + 10,000 lines`,
        f.map((x) => ms(x.after)),
      ),
    );
    console.log(
      row(
        "peak RSS (VmHWM)",
        f.map((x) => `${x.rss.toFixed(1)} MiB`),
        `<= ${TARGET.rssMiB} MB`,
      ),
    );
  }

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
    const first = await timed(() => scrape(be));
    verify(first.value, bt);
    const steady: number[] = [];
    for (let i = 0; i < STEADY; i++) steady.push((await timed(() => scrape(be))).ms);
    await be.stop();
    const p50 = quantile(steady, 0.5);
    console.log(`  bash collector:       ${ms(bash.ms)}`);
    console.log(
      `  exporter first scrape: ${ms(first.ms)}  -> ${(bash.ms / first.ms).toFixed(0)}x faster (target >= 200x)`,
    );
    console.log(
      `  exporter steady p50:   ${ms(p50)}  -> ${(bash.ms / p50).toFixed(0)}x faster (target >= 1000x)`,
    );
  }
} finally {
  cleanup(root);
}
