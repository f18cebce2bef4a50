/**
 * Mutation score of the runtime's pure modules and the pipeline config (issue 17): runs StrykerJS once per
 * target (stryker.config.mjs, MUTATION_TARGET) and ends with each file's score. Not part of `npm test`.
 *
 * Usage: tsx test/mutation/run.ts [target ...]   (default: all of test/mutation/targets.mjs)
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { targets } from "./targets.mjs";

interface MutantResult {
  status: string;
}
interface JsonReport {
  files: Record<string, { mutants: MutantResult[] }>;
}

const names = process.argv.slice(2);
for (const n of names)
  if (!(n in targets)) {
    console.error(`unknown target "${n}"; expected one of ${Object.keys(targets).join(", ")}`);
    process.exit(2);
  }
const chosen = names.length > 0 ? names : Object.keys(targets);
const MIN = 80;
const rows: { file: string; killed: number; survived: number; score: number; ms: number }[] = [];
let failed = false;

for (const name of chosen) {
  const t0 = Date.now();
  const r = spawnSync("npx", ["stryker", "run", "stryker.config.mjs"], {
    stdio: "inherit",
    env: { ...process.env, MUTATION_TARGET: name },
  });
  const ms = Date.now() - t0;
  if (r.status !== 0) {
    console.error(`stryker failed for ${name} (exit ${r.status})`);
    failed = true;
    continue;
  }
  const report = JSON.parse(readFileSync(`reports/mutation/${name}.json`, "utf8")) as JsonReport;
  for (const [file, { mutants }] of Object.entries(report.files)) {
    const count = (...s: string[]) => mutants.filter((m) => s.includes(m.status)).length;
    // Stryker's score: detected (killed, timeout) over valid mutants (excluding ignored and compile errors).
    const detected = count("Killed", "Timeout");
    const undetected = count("Survived", "NoCoverage");
    const score = detected + undetected === 0 ? 100 : (100 * detected) / (detected + undetected);
    rows.push({ file, killed: detected, survived: undetected, score, ms });
    if (score < MIN) failed = true;
  }
}

console.log(
  `\nmutation score per file (minimum ${MIN} %), load ${loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")}`,
);
for (const r of rows)
  console.log(
    `${r.score.toFixed(2).padStart(6)} %  ${r.file}  (${r.killed} detected, ${r.survived} survived, ${(r.ms / 1000).toFixed(0)} s)`,
  );
process.exit(failed ? 1 : 0);
