/** Scratch PATH directories with stand-in executables, and a doctor context around them. */
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../../../ci/config.js";
import type { DoctorContext } from "../../../../ci/doctor/check.js";

const made: string[] = [];
process.on("exit", () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** A fresh empty directory for a PATH, removed when the test process exits. */
export function pathDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "doctor-path-"));
  made.push(dir);
  return dir;
}

/** Writes an executable `name` into `dir` that runs the given sh `body` (with "$@" as its arguments). */
export function fakeBin(dir: string, name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

/** A context whose PATH is only `dir`, on a Linux x64 Debian host, with no network unless given. */
export async function contextFor(
  dir: string,
  over: Partial<DoctorContext> = {},
): Promise<DoctorContext> {
  return {
    env: { PATH: dir },
    config: await loadConfig(),
    host: { linux: true, debian: true, root: false, arch: "x64" },
    binfmtDir: join(dir, "no-binfmt"),
    npmRegistry: "https://127.0.0.1:9/",
    // Generous: only 127.0.0.1 servers that answer are asked, and a loaded machine (a pipeline test cell
    // beside eight others) can take seconds. The bound itself is tested with an explicit 500 ms.
    netTimeoutMs: 10_000,
    policyRcD: join(dir, "policy-rc.d"),
    dockerdLog: join(dir, "dockerd.log"),
    ...over,
  };
}
