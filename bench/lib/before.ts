/** The exporter of another commit, compiled next to this tree so both run on the same store under the same load. */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../test/helpers/proc.js";

/**
 * Extracts `scripts/` and the build config of `ref` into `.cache/bench-before/<commit>` (inside the repo, so its
 * imports resolve to this tree's node_modules) and compiles it; returns its metrics.js and the short commit.
 */
export function buildRef(ref: string): { script: string; commit: string } {
  const commit = execFileSync("git", ["rev-parse", "--short", `${ref}^{commit}`], {
    cwd: repoRoot,
    encoding: "utf8",
  }).trim();
  const dir = join(repoRoot, ".cache", "bench-before", commit);
  const script = join(dir, "dist", "scripts", "metrics.js");
  if (existsSync(script)) return { script, commit };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = ["scripts", "package.json", "tsconfig.json", "tsconfig.build.json"];
  const tar = execFileSync("git", ["archive", "--format=tar", commit, ...files], {
    cwd: repoRoot,
    maxBuffer: 256 * 1024 * 1024,
  });
  execFileSync("tar", ["-x", "-C", dir], { input: tar });
  execFileSync("npx", ["tsc", "-p", join(dir, "tsconfig.build.json")], {
    cwd: repoRoot,
    stdio: "inherit",
  });
  return { script, commit };
}
