// The command Stryker's command runner runs for each mutant: a unit test file, bundled once per sandbox with
// esbuild (node_modules left external), then imported by plain node. Under tsx every run paid ~1 s of loader start
// (4 s on a loaded 2-core machine) for the same instrumented sources; mutants are switched at run time by
// __STRYKER_ACTIVE_MUTANT__, so one bundle serves them all. uvu sets exit code 1 when a test fails: killed.
import { existsSync, renameSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [test, ...more] = process.argv.slice(2);
if (!test || more.length > 0) {
  console.error("usage: node test/mutation/exec.mjs <one test file>");
  process.exit(2);
}
// Beside the test, so paths it takes from import.meta.url still hold.
const bundle = join(dirname(test), `.${basename(test, ".ts")}.mutation.mjs`);
if (!existsSync(bundle)) {
  // esbuild only when building: importing it costs more than running most test files.
  const { build } = await import("esbuild");
  // Two runners share a sandbox: build to a private name, then rename (atomic) into place.
  const tmp = `${bundle}.${process.pid}.tmp.mjs`;
  await build({
    entryPoints: [test],
    outfile: tmp,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    logLevel: "error",
  });
  renameSync(tmp, bundle);
}
await import(pathToFileURL(resolve(bundle)).href);
