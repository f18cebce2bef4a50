/**
 * How deploy reaches the Docker daemon: a `HostDocker` runs `docker …` / `docker-compose …`
 * commands against it. The Docker engine runs them on the host directly; the Dagger engine runs
 * them in the docker CLI image with the host socket mounted (`withUnixSocket`).
 */
import { spawn } from "node:child_process";
import type { Engine, Secret } from "../engine.js";

/** One finished command. */
export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Runs docker CLI commands against the deploy daemon. `args[0]` is the binary. */
export interface HostDocker {
  /** Runs a command; `timeoutMs` kills it (local only), which reads as a failed command. */
  exec(args: string[], env?: Record<string, string>, timeoutMs?: number): Promise<ExecResult>;
}

/** Runs a command (in `cwd`), capturing its output; never throws on a non-zero exit. */
export function execLocal(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
  timeoutMs?: number,
): Promise<ExecResult> {
  return new Promise((resolve) => {
    const [bin, ...rest] = args;
    const child = spawn(bin as string, rest, {
      env: { ...process.env, ...env },
      ...(cwd ? { cwd } : {}),
      ...(timeoutMs ? { timeout: timeoutMs, killSignal: "SIGINT" as const } : {}),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d;
    });
    child.on("error", (e) => resolve({ exitCode: 127, stdout, stderr: `${stderr}${e.message}` }));
    child.on("close", (code) => resolve({ exitCode: code ?? 1, stdout, stderr }));
  });
}

/** The host's own docker CLI (Docker engine), run in the repo root so compose paths resolve. */
export function localDocker(root: string): HostDocker {
  return { exec: (args, env, timeoutMs) => execLocal(args, env, root, timeoutMs) };
}

/**
 * The docker CLI image on an engine, with the host socket (Dagger engine). The source is copied
 * to the repo's absolute host path, so relative bind mounts in compose files resolve to the same
 * paths on the daemon's side. Secret variables go in as secrets, never as plain env.
 */
export function engineDocker(opts: {
  engine: Engine;
  image: string;
  root: string;
  secretEnv?: Record<string, Secret>;
}): HostDocker {
  let n = 0;
  return {
    async exec(args, env = {}) {
      const name = `deploy-${++n}`;
      const result = await opts.engine.run({
        name,
        image: opts.image,
        dockerSocket: true,
        source: {
          from: opts.root,
          to: opts.root,
          exclude: ["node_modules", ".git", "dist", "reports"],
        },
        workdir: opts.root,
        secretEnv: opts.secretEnv,
        // A fresh value per command, so the engine never answers a poll from its cache.
        env: { ...env, CODEX_DEPLOY_NONCE: `${Date.now()}-${n}` },
        steps: [{ name, args, allowFailure: true }],
      });
      const step = result.steps[0];
      return {
        exitCode: step?.exitCode ?? 1,
        stdout: step?.stdout ?? "",
        stderr: step?.stderr ?? "",
      };
    },
  };
}
