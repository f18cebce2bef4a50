/**
 * Runs the uvu suites of each test kind (unit, integration, e2e, host) in its own process and
 * ends with one summary line `N passed, N failed, N skipped` across all of them.
 *
 * Before that line it names every skipped test, every `before` hook that threw (uvu drops the error), and the
 * slowest tests and files; `.cache/test-times.json` keeps every test's time. Under REQUIRE_DOCKER=1 a skipped
 * test counts as failed: a run that must reach Docker may not pass by leaving tests out.
 *
 * Times come from test/runner/uvu.ts, which the suites get in place of uvu's own `test` and `suite` (uvu keeps
 * no per-test times): a test's time is its handler's, a file's is from its first hook or test to its last.
 *
 * Usage: tsx test/run.ts [unit|integration|e2e|host ...] [-- pattern]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stripVTControlCharacters } from "node:util";
import type { TestRecord } from "./runner/uvu.js";

// host: tests of this machine's own tooling (the offline image builder: mmdebstrap, qemu's binfmt and the
// host's daemon; the board in a real terminal under tmux), run by `npm test` and .ci/run but by no pipeline
// cell, whose containers have none of these.
const KINDS = ["unit", "integration", "e2e", "host"] as const;
type Kind = (typeof KINDS)[number];

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

interface KindRun {
  kind: Kind;
  tally: Tally;
  records: TestRecord[];
  ms: number;
}

/** How many of the slowest tests and files the closing report lists. */
const SLOWEST = 10;

const args = process.argv.slice(2);
const dash = args.indexOf("--");
const pattern = dash >= 0 ? (args[dash + 1] ?? "") : "";
const named = (dash >= 0 ? args.slice(0, dash) : args) as Kind[];
for (const k of named) {
  if (!KINDS.includes(k)) {
    console.error(`test/run.ts: unknown test kind "${k}"; expected one of ${KINDS.join(", ")}`);
    process.exit(2);
  }
}
const kinds = named.length > 0 ? named : [...KINDS];
const uvuBin = join(dirname(createRequire(import.meta.url).resolve("uvu")), "..", "bin.js");
const PRELOAD = fileURLToPath(new URL("./runner/preload.mjs", import.meta.url));
const requireDocker = process.env.REQUIRE_DOCKER === "1";

/** Reads uvu's closing block (Total / Passed / Skipped) from its output. */
function parseTally(output: string): Tally | undefined {
  const plain = stripVTControlCharacters(output);
  const total = /Total:\s+(\d+)/.exec(plain);
  const passed = /Passed:\s+(\d+)/.exec(plain);
  const skipped = /Skipped:\s+(\d+)/.exec(plain);
  if (!total || !passed) return undefined;
  const t = Number(total[1]);
  const p = Number(passed[1]);
  return { passed: p, failed: t - p, skipped: Number(skipped?.[1] ?? 0) };
}

function readRecords(file: string): TestRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as TestRecord);
}

/** Runs one kind's suites with uvu under tsx, streaming output, and returns its tally and records. */
function runKind(kind: Kind): Promise<KindRun> {
  const dir = join("test", kind);
  const empty = { kind, tally: { passed: 0, failed: 0, skipped: 0 }, records: [], ms: 0 };
  if (!existsSync(dir)) return Promise.resolve(empty);
  console.log(`\n=== ${kind} ===`);
  const filePattern = pattern ? `${pattern}.*\\.test\\.ts$` : "\\.test\\.ts$";
  const recordDir = mkdtempSync(join(tmpdir(), "codex-test-run-"));
  const recordFile = join(recordDir, `${kind}.jsonl`);
  const t0 = Date.now();
  return new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "--import", PRELOAD, uvuBin, dir, filePattern],
      {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, TEST_KIND: kind, TEST_RECORD: recordFile },
      },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on("close", (code) => {
      const tally = parseTally(out) ?? { passed: 0, failed: 0, skipped: 0 };
      // A crash before uvu's summary (an import error, say) still counts as a failure.
      if (code !== 0 && tally.failed === 0) tally.failed = 1;
      const records = readRecords(recordFile);
      // uvu returns from a `finally` and so drops an error thrown in a `before` hook: the suite's tests
      // only show as not passed, and a suite with none passes. Each such error is a failure of its own.
      const hookErrors = records.filter((r) => r.t === "hook" && r.hook === "before" && !r.ok);
      tally.failed = Math.max(tally.failed, hookErrors.length);
      rmSync(recordDir, { recursive: true, force: true });
      resolve({ kind, tally, records, ms: Date.now() - t0 });
    });
  });
}

const title = (kind: Kind, r: { file: string; suite: string; name?: string }): string =>
  [`${kind}/${r.file}`, r.suite, r.name].filter(Boolean).join(" › ");

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;

interface FileTime {
  file: string;
  ms: number;
  tests: number;
}

/** Each file's span, from its first hook or test to its end; uvu runs files one after another. */
function fileTimes(run: KindRun): FileTime[] {
  const spans = new Map<string, { from: number; to: number; tests: number }>();
  for (const r of run.records) {
    if (r.t === "skip") continue;
    const s = spans.get(r.file) ?? { from: r.start, to: r.start, tests: 0 };
    s.from = Math.min(s.from, r.start);
    s.to = Math.max(s.to, r.start + r.ms);
    if (r.t === "test") s.tests++;
    spans.set(r.file, s);
  }
  return [...spans].map(([file, s]) => ({
    file: `${run.kind}/${file}`,
    ms: s.to - s.from,
    tests: s.tests,
  }));
}

/** The closing report: times, then what was skipped and what failed silently. */
function report(runs: KindRun[], sum: Tally): string[] {
  const lines: string[] = [];
  const tests = runs.flatMap((run) =>
    run.records.flatMap((r) => (r.t === "test" ? [{ title: title(run.kind, r), ms: r.ms }] : [])),
  );
  const files = runs.flatMap(fileTimes);
  if (tests.length > 0) {
    lines.push("", `slowest tests (of ${tests.length}):`);
    for (const t of [...tests].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST))
      lines.push(`  ${seconds(t.ms).padStart(8)}  ${t.title}`);
    lines.push("slowest files:");
    for (const f of [...files].sort((a, b) => b.ms - a.ms).slice(0, SLOWEST))
      lines.push(`  ${seconds(f.ms).padStart(8)}  ${f.file} (${f.tests} tests)`);
    const per = runs.map((run) => {
      const inFiles = fileTimes(run).reduce((a, f) => a + f.ms, 0);
      return `${run.kind} ${seconds(run.ms)} (outside tests and hooks: ${seconds(run.ms - inFiles)})`;
    });
    lines.push(`wall time: ${per.join(", ")}; every test's time in .cache/test-times.json`);
    mkdirSync(".cache", { recursive: true });
    writeFileSync(
      join(".cache", "test-times.json"),
      `${JSON.stringify({ kinds: runs.map(({ kind, ms }) => ({ kind, ms })), files, tests }, null, 2)}\n`,
    );
  }
  const hookErrors = runs.flatMap((run) =>
    run.records.flatMap((r) =>
      r.t === "hook" && r.hook === "before" && !r.ok
        ? [`FAIL ${title(run.kind, r)}: before hook threw (its tests did not run):\n    ${r.error}`]
        : [],
    ),
  );
  if (hookErrors.length > 0) lines.push("", ...hookErrors);
  const skipped = runs.flatMap((run) =>
    run.records.flatMap((r) => (r.t === "skip" ? [title(run.kind, r)] : [])),
  );
  if (sum.skipped > 0) {
    lines.push(
      "",
      requireDocker
        ? `${sum.skipped} skipped, which fails the run under REQUIRE_DOCKER=1:`
        : `${sum.skipped} skipped (a missing capability; REQUIRE_DOCKER=1 makes each a failure):`,
    );
    for (const s of skipped) lines.push(`  - ${s}`);
    // A `.skip` outside the wrapper (a suite importing uvu some other way) still shows up in the count.
    if (skipped.length < sum.skipped)
      lines.push(`  - ${sum.skipped - skipped.length} more, not named by uvu`);
  }
  return lines;
}

const runs: KindRun[] = [];
for (const kind of kinds) runs.push(await runKind(kind));
const sum: Tally = { passed: 0, failed: 0, skipped: 0 };
for (const { tally } of runs) {
  sum.passed += tally.passed;
  sum.failed += tally.failed;
  sum.skipped += tally.skipped;
}
for (const line of report(runs, sum)) console.log(line);
if (requireDocker) {
  sum.failed += sum.skipped;
  sum.skipped = 0;
}
console.log(`\n${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped`);
process.exit(sum.failed > 0 ? 1 : 0);
