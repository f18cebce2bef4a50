/**
 * Runs the uvu suites of each test kind (unit, integration, e2e) in its own process and
 * ends with one summary line `N passed, N failed, N skipped` across all of them.
 *
 * Usage: tsx test/run.ts [unit|integration|e2e ...] [-- pattern]
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { stripVTControlCharacters } from "node:util";

const KINDS = ["unit", "integration", "e2e"] as const;
type Kind = (typeof KINDS)[number];

interface Tally {
  passed: number;
  failed: number;
  skipped: number;
}

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

/** Runs one kind's suites with uvu under tsx, streaming output, and returns its tally. */
function runKind(kind: Kind): Promise<Tally> {
  const dir = join("test", kind);
  if (!existsSync(dir)) return Promise.resolve({ passed: 0, failed: 0, skipped: 0 });
  console.log(`\n=== ${kind} ===`);
  const filePattern = pattern ? `${pattern}.*\\.test\\.ts$` : "\\.test\\.ts$";
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", uvuBin, dir, filePattern], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, TEST_KIND: kind },
    });
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      process.stdout.write(chunk);
    });
    child.on("close", (code) => {
      const tally = parseTally(out) ?? { passed: 0, failed: 0, skipped: 0 };
      // A crash before uvu's summary (an import error, say) still counts as a failure.
      if (code !== 0 && tally.failed === 0) tally.failed = 1;
      resolve(tally);
    });
  });
}

const sum: Tally = { passed: 0, failed: 0, skipped: 0 };
for (const kind of kinds) {
  const t = await runKind(kind);
  sum.passed += t.passed;
  sum.failed += t.failed;
  sum.skipped += t.skipped;
}
console.log(`\n${sum.passed} passed, ${sum.failed} failed, ${sum.skipped} skipped`);
process.exit(sum.failed > 0 ? 1 : 0);
