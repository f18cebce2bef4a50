/** Small, bounded probes of the host: run a command, find executables on a PATH. */
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, realpath } from "node:fs/promises";
import { delimiter, join } from "node:path";

/** What a probe command did; `ok` is exit 0 within the time limit. */
export interface Ran {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` with `env` (its PATH finds `cmd`), killed after `timeoutMs`; never throws. */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 10_000,
): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { env, timeout: timeoutMs, encoding: "utf8" }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : null) : 0;
      resolve({ ok: !err, code, stdout: stdout.trim(), stderr: stderr.trim() });
    });
  });
}

/** Every executable named `name` on `env.PATH`, first first, each real file once. */
export async function whichAll(name: string, env: NodeJS.ProcessEnv): Promise<string[]> {
  const found: string[] = [];
  const seen = new Set<string>();
  for (const dir of (env.PATH ?? "").split(delimiter).filter(Boolean)) {
    const file = join(dir, name);
    try {
      await access(file, constants.X_OK);
      const real = await realpath(file);
      if (seen.has(real)) continue;
      seen.add(real);
      found.push(file);
    } catch {
      // not here
    }
  }
  return found;
}

/** The first executable named `name` on `env.PATH`, if any. */
export async function which(name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return (await whichAll(name, env))[0];
}

/** The first `x.y.z` in `text`, if any. */
export function semver(text: string): string | undefined {
  return /(\d+\.\d+\.\d+)/.exec(text)?.[1];
}
