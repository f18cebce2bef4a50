/**
 * What the git health check asks git (its version; whether user.name and user.email are set), answered from
 * files where they give git's own answer, so the healthcheck need not spawn git on every run.
 * Node builtins only: the healthcheck imports it.
 */
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { delimiter, dirname, join, resolve } from "node:path";

/** Exit code (-1: could not start or was killed) and output of a command. */
export interface RunResult {
  code: number;
  out: string;
}

/** Runs a command without a shell, bounded by a timeout. */
export type Runner = (cmd: string, args: string[], timeoutMs: number) => Promise<RunResult>;

/** How long a cached `git --version` answer is trusted even when the binary is unchanged (a library could break). */
export const GIT_VERSION_TTL_MS = 5 * 60_000;

/** A remembered answer of `git --version`, tied to the binary that gave it. */
interface VersionCache {
  path: string;
  id: string;
  out: string;
  at: number;
}

/**
 * `git --version`: the answer recorded in `cacheFile` while the git found on PATH is the same file (device, inode,
 * size, mtime and ctime) and the answer is younger than GIT_VERSION_TTL_MS; otherwise git is asked, and a
 * successful answer recorded (best effort: an unwritable cache only costs the spawn).
 */
export async function gitVersion(
  cacheFile: string,
  timeoutMs: number,
  run: Runner,
  env: NodeJS.ProcessEnv = process.env,
  now = Date.now(),
): Promise<RunResult> {
  const bin = findOnPath("git", env.PATH ?? "");
  const id = bin ? fileId(bin) : undefined;
  if (bin && id) {
    const c = readCache(cacheFile);
    if (c && c.path === bin && c.id === id && c.at <= now && now - c.at < GIT_VERSION_TTL_MS)
      return { code: 0, out: c.out };
  }
  const r = await run("git", ["--version"], timeoutMs);
  if (r.code === 0 && bin && id) writeCache(cacheFile, { path: bin, id, out: r.out, at: now });
  return r;
}

/** The first executable regular file of that name on PATH, as execvp would find it; undefined when none. */
export function findOnPath(tool: string, path: string): string | undefined {
  for (const dir of path.split(delimiter)) {
    // execvp reads an empty entry as the current directory.
    const file = resolve(dir || ".", tool);
    if (isExecutableFile(file)) return file;
  }
  return undefined;
}

/** True for a regular file we may execute. Stats without throwing first: most PATH entries do not hold the tool. */
export function isExecutableFile(file: string): boolean {
  try {
    if (!statSync(file, { throwIfNoEntry: false })?.isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** What identifies one version of a file: replaced or rewritten, it changes. */
function fileId(file: string): string | undefined {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  } catch {
    return undefined;
  }
}

/** The cache, or undefined when missing or malformed. */
function readCache(file: string): VersionCache | undefined {
  try {
    const c = JSON.parse(readFileSync(file, "utf8")) as Partial<VersionCache>;
    if (
      typeof c.path === "string" &&
      typeof c.id === "string" &&
      typeof c.out === "string" &&
      typeof c.at === "number"
    )
      return c as VersionCache;
  } catch {
    // Missing or corrupt: ask git.
  }
  return undefined;
}

/** Writes the cache atomically; failures are ignored. */
function writeCache(file: string, c: VersionCache): void {
  try {
    mkdirSync(dirname(file), { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify(c)}\n`);
    renameSync(tmp, file);
  } catch {
    // Next run asks git again.
  }
}

/**
 * True when git would list both user.name and user.email (`git config --get-regexp '^user\.(name|email)$'`),
 * read from the config files git reads; undefined whenever only git can tell for sure:
 * - git reads other sources (GIT_CONFIG_* variables, a repository at or above `cwd`, a git whose system config
 *   path is not known here);
 * - a file holds anything the strict reader below does not fully understand (includes, quotes, escapes,
 *   continuation lines), since git might read it differently or reject it, and then answer nothing.
 * Keys are only ever added by config files, never removed, so finding both is git's answer too.
 */
export function userFromFiles(
  env: NodeJS.ProcessEnv = process.env,
  cwd = process.cwd(),
): true | undefined {
  if (Object.keys(env).some((k) => k.startsWith("GIT_CONFIG") && k !== "GIT_CONFIG_NOSYSTEM"))
    return undefined;
  if (env.GIT_DIR || insideRepository(cwd)) return undefined;
  const files: string[] = [];
  if (!env.GIT_CONFIG_NOSYSTEM) {
    const bin = findOnPath("git", env.PATH ?? "");
    let real: string | undefined;
    try {
      real = bin && realpathSync(bin);
    } catch {
      real = undefined;
    }
    // Debian's git (prefix /usr, sysconfdir /etc); another build may read another system file.
    if (real !== "/usr/bin/git") return undefined;
    files.push("/etc/gitconfig");
  }
  if (!env.HOME) return undefined;
  files.push(
    env.XDG_CONFIG_HOME
      ? join(env.XDG_CONFIG_HOME, "git", "config")
      : join(env.HOME, ".config", "git", "config"),
    join(env.HOME, ".gitconfig"),
  );
  const found = new Set<string>();
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // git skips a missing file; any other error (a directory, no permission) makes it fail.
      if (code === "ENOENT" || code === "ENOTDIR") continue;
      return undefined;
    }
    const keys = userKeys(text);
    if (!keys) return undefined;
    for (const k of keys) found.add(k);
  }
  return found.has("name") && found.has("email") ? true : undefined;
}

/** True when `dir` or a parent holds `.git`: git would read that repository's config as well. */
function insideRepository(dir: string): boolean {
  for (let d = resolve(dir); ; d = dirname(d)) {
    if (existsSync(join(d, ".git"))) return true;
    if (dirname(d) === d) return false;
  }
}

/**
 * The keys set in section `[user]` (no subsection) of a git config file, lower-cased; undefined when the file
 * holds anything but blank lines, comments, plain section headers and `key = value` lines without quotes
 * or backslashes.
 */
export function userKeys(text: string): Set<string> | undefined {
  const keys = new Set<string>();
  // undefined before the first header; "" inside a section whose keys are not user.*.
  let section: string | undefined;
  for (const line of text.split("\n")) {
    if (/^[ \t]*([#;].*)?$/.test(line)) continue;
    const header = /^[ \t]*\[([A-Za-z0-9.-]+)(?:[ \t]+"([^"\\]*)")?\][ \t]*([#;].*)?$/.exec(line);
    if (header) {
      const name = (header[1] as string).toLowerCase();
      if (name === "include" || name === "includeif" || name.startsWith(".") || name.endsWith("."))
        return undefined;
      // `[user "x"]` and `[user.x]` are subsections: their keys are user.x.*, not user.*.
      section = header[2] === undefined && !name.includes(".") ? name : "";
      continue;
    }
    const entry = /^[ \t]*([A-Za-z][A-Za-z0-9-]*)[ \t]*(?:=(.*))?$/.exec(line);
    // A key before any section, or a line git might read differently: only git can tell.
    if (!entry || section === undefined) return undefined;
    // Quotes, escapes, continuations and control characters (but tab) are left to git too.
    const value = entry[2] ?? "";
    if (/["\\]/.test(value) || /(?!\t)\p{Cc}/u.test(value)) return undefined;
    if (section === "user") keys.add((entry[1] as string).toLowerCase());
  }
  return keys;
}
