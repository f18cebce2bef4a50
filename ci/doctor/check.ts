/** The shape of a doctor check and what every check is given. */
import { existsSync, readFileSync } from "node:fs";
import { arch, platform } from "node:os";
import type { PipelineConfig } from "../config.js";

/** `ok`: there; `warn`: missing but optional; `missing`: missing and needed (exit 1). */
export type Status = "ok" | "warn" | "missing";

/** Something `--fix` can do beyond installing Debian packages. */
export type FixAction = "dockerd" | "binfmt" | "offline-images";

/** One row of the doctor's table. */
export interface CheckResult {
  name: string;
  status: Status;
  /** What is there (versions, paths) or why it is not. */
  found: string;
  /** What to do when not ok. */
  fix?: string;
  /** Debian packages that provide it. */
  apt?: string[];
  /** What `--fix` does about it, besides `apt`. */
  action?: FixAction;
}

/** The host facts that decide what `--fix` may do. */
export interface Host {
  linux: boolean;
  /** Debian or Ubuntu (or a derivative with apt). */
  debian: boolean;
  root: boolean;
  /** Node's `os.arch()`: x64, arm64, … */
  arch: string;
}

/** Everything a check reads: environment (PATH), config, host, and the paths it probes. */
export interface DoctorContext {
  env: NodeJS.ProcessEnv;
  config: PipelineConfig;
  host: Host;
  /** Where binfmt_misc is mounted. */
  binfmtDir: string;
  /** The npm registry, the one host the CA check talks to. */
  npmRegistry: string;
  /** Bound for each network probe. */
  netTimeoutMs: number;
  /** Debian's switch that keeps package installs from starting services. */
  policyRcD: string;
  /** Where a dockerd started by `--fix` logs. */
  dockerdLog: string;
}

/** Reads the host facts from this machine. */
export function detectHost(): Host {
  const osRelease = existsSync("/etc/os-release") ? readFileSync("/etc/os-release", "utf8") : "";
  const ids = osRelease.match(/^ID(_LIKE)?=.*$/gm) ?? [];
  const debian = existsSync("/etc/debian_version") || ids.some((l) => /debian|ubuntu/.test(l));
  return {
    linux: platform() === "linux",
    debian: platform() === "linux" && debian,
    root: process.getuid?.() === 0,
    arch: arch(),
  };
}

/** The default context: this process's environment and this machine. */
export function defaultContext(config: PipelineConfig): DoctorContext {
  return {
    env: process.env,
    config,
    host: detectHost(),
    binfmtDir: "/proc/sys/fs/binfmt_misc",
    npmRegistry: process.env.npm_config_registry || "https://registry.npmjs.org/",
    netTimeoutMs: 3000,
    policyRcD: "/usr/sbin/policy-rc.d",
    dockerdLog: "/var/log/dockerd.log",
  };
}
