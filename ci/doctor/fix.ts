/** What `doctor --fix` does on Debian/Ubuntu as root: apt packages, binfmt, dockerd, offline images. */
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { enableEmulation } from "../lib/binfmt.js";
import { nativePlatform } from "../lib/platform.js";
import { mustExec, spawnDetached } from "../lib/process.js";
import type { DoctorContext } from "./check.js";
import { run, which } from "./probe.js";

/** How long `--fix` waits for a started dockerd to answer. */
export const DOCKERD_WAIT_MS = 60_000;

/** Runs a command with its output logged line by line, indented; rejects on a non-zero exit. */
async function shown(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (l: string) => void,
): Promise<void> {
  await mustExec([cmd, ...args], { baseEnv: env, onLine: (l) => l.trim() && log(`  ${l}`) });
}

/** apt-get install `pkgs` without starting their services (prometheus would take port 9090). */
export async function aptInstall(
  pkgs: string[],
  ctx: DoctorContext,
  log: (l: string) => void,
  step: (name: string) => void = () => {},
): Promise<void> {
  const env = { ...ctx.env, DEBIAN_FRONTEND: "noninteractive", NEEDRESTART_SUSPEND: "1" };
  const policy = ctx.policyRcD;
  const ownPolicy = !existsSync(policy);
  const removePolicy = () => ownPolicy && rmSync(policy, { force: true });
  // Ctrl-C must not leave the policy behind: it would block every later service start.
  const onSignal = (signal: NodeJS.Signals) => {
    removePolicy();
    process.exit(signal === "SIGINT" ? 130 : 143);
  };
  if (ownPolicy)
    writeFileSync(
      policy,
      "#!/bin/sh\n# doctor --fix: no service starts during install\nexit 101\n",
      { mode: 0o755 },
    );
  process.once("SIGINT", onSignal).once("SIGTERM", onSignal);
  try {
    // Package lists older than an hour (or none) are refreshed first.
    const cache = "/var/cache/apt/pkgcache.bin";
    if (!existsSync(cache) || Date.now() - statSync(cache).mtimeMs > 3600_000) {
      step("apt-get update");
      log("$ apt-get update");
      await shown("apt-get", ["-q", "update"], env, log);
    }
    step("apt-get install");
    log(`$ apt-get install -y ${pkgs.join(" ")}`);
    await shown("apt-get", ["install", "-y", "-q", "-o", "Dpkg::Use-Pty=0", ...pkgs], env, log);
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    removePolicy();
  }
}

/** Mounts binfmt_misc when needed and enables qemu-aarch64. */
export async function enableBinfmt(ctx: DoctorContext, log: (l: string) => void): Promise<void> {
  await enableEmulation("linux/arm64", log, { dir: ctx.binfmtDir, env: ctx.env });
}

/** Options of `startDockerd`; the defaults are the host's daemon. */
export interface DockerdOptions {
  /** Extra dockerd flags. */
  args?: string[];
  logFile?: string;
  waitMs?: number;
}

/** Starts dockerd in the background and waits, bounded, until `docker info` answers; returns its pid. A daemon that never answers is killed. */
export async function startDockerd(
  ctx: DoctorContext,
  log: (l: string) => void,
  { args = [], logFile = ctx.dockerdLog, waitMs = DOCKERD_WAIT_MS }: DockerdOptions = {},
): Promise<number> {
  const dockerd = await which("dockerd", ctx.env);
  if (!dockerd) throw new Error("dockerd is not installed (apt-get install docker.io)");
  log(`$ ${[dockerd, ...args].join(" ")} >${logFile} 2>&1 &`);
  // A daemon that outlives `npm run setup`: its own session, its log file as stdout and stderr.
  const child = spawnDetached([dockerd, ...args], { env: ctx.env, logFile });
  let exited: number | null | undefined;
  child.on("exit", (code) => {
    exited = code;
  });
  const tail = () => readFileSync(logFile, "utf8").trim().split("\n").slice(-15).join("\n");
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (exited !== undefined)
      throw new Error(`dockerd exited with ${exited}; ${logFile} ends:\n${tail()}`);
    if ((await run("docker", ["info", "--format", "{{.ServerVersion}}"], ctx.env, 5000)).ok) {
      log(`dockerd (pid ${child.pid}) answers`);
      child.unref();
      return child.pid ?? 0;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  child.kill("SIGTERM");
  child.unref();
  throw new Error(
    `dockerd did not answer within ${waitMs / 1000}s (stopped it); ${logFile} ends:\n${tail()}`,
  );
}

/** The platforms of the config this host can build: native, and arm64 when qemu runs it. */
export function buildablePlatforms(platforms: string[], canEmulateArm64: boolean): string[] {
  const native = nativePlatform();
  const runnable = platforms.filter(
    (p) => p === native || (p === "linux/arm64" && canEmulateArm64),
  );
  return runnable.length > 0 ? runnable : [native];
}
