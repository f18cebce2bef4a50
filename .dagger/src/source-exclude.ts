/**
 * What is never part of the source: rebuilt inside containers (node_modules, dist), host-only (.git, caches,
 * logs) or output (reports, coverage). Gitignore-style names, matched at any depth.
 *
 * Written once, here: the pipeline leaves it out of every source copy (`ci/lib/node-env.ts` re-exports it),
 * and the module's `source` argument ignores it. It lives in the module's src/ because Dagger's TypeScript
 * introspector reads `@argument({ ignore })` from src/ alone (the engine mounts nothing else when it reads the
 * module's types), and it evaluates the array literal as written: keep it a plain list of strings.
 */
export const SOURCE_EXCLUDE = [
  "node_modules",
  ".git",
  "dist",
  ".cache",
  "reports",
  "coverage",
  "*.log",
];
