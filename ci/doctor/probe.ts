/** Bounded probes of the host with the doctor's own environment (tests give it a PATH of stand-ins). */
import { exec } from "../lib/process.js";
import { findAllOnPath, findOnPath } from "../lib/which.js";

/** What a probe command did; `ok` is exit 0 within the time limit. */
export interface Ran {
  ok: boolean;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args` with `env` (its PATH finds `cmd`), stopped after `timeoutMs`; never throws. */
export async function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs = 10_000,
): Promise<Ran> {
  const r = await exec([cmd, ...args], { baseEnv: env, timeoutMs });
  return {
    ok: r.exitCode === 0,
    code: r.exitCode < 0 ? null : r.exitCode,
    stdout: r.stdout.trim(),
    stderr: r.stderr.trim(),
  };
}

/** Every executable named `name` on `env.PATH`, first first, each real file once. */
export const whichAll = (name: string, env: NodeJS.ProcessEnv): Promise<string[]> =>
  findAllOnPath(name, env.PATH ?? "");

/** The first executable named `name` on `env.PATH`, if any. */
export const which = (name: string, env: NodeJS.ProcessEnv): Promise<string | undefined> =>
  findOnPath(name, env.PATH ?? "");

/** The first `x.y.z` in `text`, if any. */
export function semver(text: string): string | undefined {
  return /(\d+\.\d+\.\d+)/.exec(text)?.[1];
}
