/**
 * A tiny repo for running the pipeline on: TypeScript and Biome from this repo's lockfile (a fast `npm ci`
 * from the cache volume), one typed module, one node:test unit test.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = process.cwd();

/** The repo's lockfile cut down to TypeScript and Biome: a fast `npm ci` from the cache volume. */
function smallLock(): { pkg: object; lock: object } {
  const lock = JSON.parse(readFileSync(join(repo, "package-lock.json"), "utf8"));
  const root = lock.packages[""];
  const devDependencies = {
    "@biomejs/biome": root.devDependencies["@biomejs/biome"],
    typescript: root.devDependencies.typescript,
  };
  const pkg = {
    name: "codex-ci-fixture",
    version: "0.0.0",
    private: true,
    type: "module",
    scripts: { typecheck: "tsc -p tsconfig.json", "test:unit": "node --test test/add.test.mjs" },
    devDependencies,
  };
  const packages: Record<string, unknown> = {
    "": { name: pkg.name, version: pkg.version, devDependencies },
  };
  for (const [k, v] of Object.entries(lock.packages))
    if (k.startsWith("node_modules/typescript") || k.startsWith("node_modules/@biomejs/"))
      packages[k] = v;
  return {
    pkg,
    lock: { name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages },
  };
}

/** A tiny repo: TypeScript and Biome from the repo's lockfile, one typed module, one node:test unit test. */
export function fixtureRepo(unitTest: string): string {
  const dir = mkdtempSync(join(tmpdir(), "codex-ci-fixture-"));
  const { pkg, lock } = smallLock();
  const json = (file: string, v: object) =>
    writeFileSync(join(dir, file), `${JSON.stringify(v, null, 2)}\n`);
  json("package.json", pkg);
  json("package-lock.json", lock);
  // Biome's own formatting of its config (it checks biome.json too).
  writeFileSync(
    join(dir, "biome.json"),
    '{\n  "files": {\n    "includes": ["src/**", "test/**"]\n  },\n  "formatter": {\n    "indentStyle": "space"\n  }\n}\n',
  );
  json("tsconfig.json", {
    compilerOptions: { strict: true, module: "NodeNext", noEmit: true, types: [] },
    include: ["src"],
  });
  mkdirSync(join(dir, "src"));
  mkdirSync(join(dir, "test"));
  writeFileSync(
    join(dir, "src", "add.ts"),
    "export const add = (a: number, b: number): number => a + b;\n",
  );
  writeFileSync(join(dir, "test", "add.test.mjs"), unitTest);
  return dir;
}

/**
 * Writes this repo's pipeline config without apt packages to `path` and returns it: for tests whose point is not
 * the apt step (apt alone can take minutes on a loaded machine).
 */
export function configWithoutApt(path: string): string {
  writeFileSync(
    path,
    readFileSync(join(repo, "ci", "pipeline.yaml"), "utf8").replace(
      /^ {2}(packages|e2ePackages): \[.*\]$/gm,
      "  $1: []",
    ),
  );
  return path;
}
