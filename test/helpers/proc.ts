/** Process helpers for runtime tests: run the scripts under tsx, free ports, bounded waits, temp dirs. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const repoRoot = process.cwd();

/** A fresh temp dir; remove it with cleanup(). */
export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `cf-${prefix}-`));
}

/** Removes a temp dir, ignoring errors. */
export function cleanup(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** A TCP port free on 127.0.0.1 right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Polls `cond` every 50 ms until it is truthy, failing with `what` after timeoutMs. */
export async function waitFor<T>(
  cond: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await cond();
      if (v) return v as Exclude<T, undefined | null | false>;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${last})` : ""}`,
      );
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A started script with its output so far and its exit. */
export interface Started {
  proc: ChildProcess;
  out: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `scripts/<name>.ts` under tsx with the given env (merged over a minimal base) and args. */
export function startScript(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
): Started {
  const proc = spawn(
    process.execPath,
    ["--import", "tsx", join(repoRoot, "scripts", `${name}.ts`), ...args],
    {
      cwd: repoRoot,
      env: { PATH: process.env.PATH, ...env } as NodeJS.ProcessEnv,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  proc.stdout?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  proc.stderr?.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once("close", (code, signal) => resolve({ code, signal })),
  );
  return { proc, out: () => out, exit };
}

/** Runs a script to completion (killed after timeoutMs) and returns its code and output. */
export async function runScript(
  name: string,
  args: string[],
  env: Record<string, string | undefined>,
  timeoutMs = 60_000,
): Promise<{ code: number | null; out: string }> {
  const s = startScript(name, args, env);
  const timer = setTimeout(() => s.proc.kill("SIGKILL"), timeoutMs);
  const { code } = await s.exit;
  clearTimeout(timer);
  return { code, out: s.out() };
}

/** GETs a URL on 127.0.0.1 and returns status and body. */
export async function get(url: string): Promise<{ status: number; body: string; type: string }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.text(), type: r.headers.get("content-type") ?? "" };
}

/** Value of one sample in Prometheus text output (name with its label block exactly as printed), or undefined. */
export function sample(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
