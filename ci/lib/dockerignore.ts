/** `.dockerignore`, read as the docker CLI reads it: one pattern a line, `#` comments, `!` exceptions. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The patterns of `<context>/.dockerignore`, in order (none when there is no file). */
export function dockerignore(context: string): string[] {
  const file = join(context, ".dockerignore");
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));
}

/**
 * What a context upload must leave out: the `.dockerignore` patterns, with the Dockerfile kept as an exception
 * (the docker CLI always sends it, even when a pattern such as `*` would drop it).
 */
export function contextExcludes(context: string, dockerfile = "Dockerfile"): string[] {
  const patterns = dockerignore(context);
  return patterns.length ? [...patterns, `!${dockerfile}`] : [];
}
