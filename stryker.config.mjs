// StrykerJS over the runtime's pure modules and the pipeline config (issue 17). One target per run:
// `npm run mutation` (test/mutation/run.ts) sets MUTATION_TARGET and runs Stryker once for each, so every
// mutant is judged by the unit tests of its own module only, not the whole suite.
import { targets } from "./test/mutation/targets.mjs";

const name = process.env.MUTATION_TARGET ?? "mcplog";
const target = targets[name];
if (!target)
  throw new Error(`MUTATION_TARGET=${name}: expected one of ${Object.keys(targets).join(", ")}`);

/** @type {import("@stryker-mutator/api/core").PartialStrykerOptions} */
export default {
  testRunner: "command",
  // uvu sets exit code 1 when a test fails: a killed mutant. tsx runs the instrumented TypeScript as it is.
  commandRunner: { command: `node test/mutation/exec.mjs ${target.test}` },
  mutate: [target.file],
  // The command runner cannot tell which test covers what: every mutant runs the module's whole test file.
  coverageAnalysis: "off",
  // 2 shared cores.
  concurrency: 2,
  // A loaded machine makes the first (timing) run unrepresentative; allow for it before calling a mutant a timeout.
  timeoutMS: 15_000,
  timeoutFactor: 2,
  reporters: ["clear-text", "json", "progress"],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  clearTextReporter: { allowColor: false, logTests: false },
  // Not incremental: with the command runner Stryker sees one test ("All tests") and reuses every old result even
  // when the test file changed, so a rerun after new tests would report the old score.
  incremental: false,
  tempDirName: ".stryker-tmp",
  cleanTempDir: true,
  // Only what the tests need is copied into the sandbox.
  ignorePatterns: [
    "reports",
    "docs",
    "docker",
    ".devcontainer",
    ".github",
    "bench",
    "dist",
    ".dagger",
  ],
  thresholds: { high: 90, low: 80, break: null },
};
