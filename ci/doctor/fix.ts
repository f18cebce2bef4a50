/** What `doctor --fix` does on Debian/Ubuntu as root: apt packages, binfmt, dockerd, offline images. */
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { arch } from "node:os";
import type { PipelineConfig } from "../config.js";
import type { DoctorContext } from "./check.js";
import { run, which } from "./probe.js";

/** How long `--fix` waits for a started dockerd to answer. */
export const DOCKERD_WAIT_MS = 60_000;

/** Runs a command with its output logged line by line, indented; rejects on a non-zero exit. */
function shown(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  log: (l: string) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    const relay = (chunk: Buffer) => {
      for (const line of chunk.toString().split("\n")) if (line.trim()) log(`  ${line}`);
    };
    child.stdout.on("data", relay);
    child.stderr.on("data", relay);
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${cmd} ${args.join(" ")} exited with ${code}`)),
    );
  });
}

/** apt-get install `pkgs` without starting their services (prometheus would take port 9090). */
export async function aptInstall(
  pkgs: string[],
  ctx: DoctorContext,
  log: (l: string) => void,
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
      log("$ apt-get update");
      await shown("apt-get", ["-q", "update"], env, log);
    }
    log(`$ apt-get install -y ${pkgs.join(" ")}`);
    await shown("apt-get", ["install", "-y", "-q", "-o", "Dpkg::Use-Pty=0", ...pkgs], env, log);
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
    removePolicy();
  }
}

/** Mounts binfmt_misc when needed and enables qemu-aarch64. */
export async function enableBinfmt(ctx: DoctorContext, log: (l: string) => void): Promise<void> {
  if (!existsSync(`${ctx.binfmtDir}/register`)) {
    log(`$ mount -t binfmt_misc binfmt_misc ${ctx.binfmtDir}`);
    await shown("mount", ["-t", "binfmt_misc", "binfmt_misc", ctx.binfmtDir], ctx.env, log);
  }
  log("$ update-binfmts --enable qemu-aarch64");
  await shown("update-binfmts", ["--enable", "qemu-aarch64"], ctx.env, log);
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
  const out = openSync(logFile, "a");
  // Detached: its own session, so it outlives `npm run setup`.
  const child = spawn(dockerd, args, { env: ctx.env, detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
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

/** The platform this host runs natively. */
export const nativePlatform = (): string => `linux/${arch() === "x64" ? "amd64" : arch()}`;

/** Builds the offline base images with ci/stages/images.ts, for every platform this host can run. */
export async function buildOfflineImages(
  config: PipelineConfig,
  canEmulateArm64: boolean,
  log: (l: string) => void,
): Promise<void> {
  // Imported only when needed: the images stage's builders are heavy and not the doctor's.
  const { offlineImages } = await import("../stages/images.js");
  const native = nativePlatform();
  const runnable = config.platforms.filter(
    (p) => p === native || (p === "linux/arm64" && canEmulateArm64),
  );
  const platforms = runnable.length > 0 ? runnable : [native];
  log(`building offline base images for ${platforms.join(", ")}`);
  await offlineImages({
    refs: {
      node: config.images.node,
      prometheus: config.images.prometheus,
      alertmanager: config.images.alertmanager,
    },
    nodeVersions: config.node,
    buildNodeVersion: config.image.nodeVersion,
    platforms,
    force: false,
    log: (line) => log(`  ${line}`),
  });
}
