/**
 * Stopping processes where there is no `ps`: slim images (node:*-slim), where the e2e cell runs the pipeline.
 * zx's own kill lists the process tree with `ps` and threw on the empty listing, so Ctrl-C (DockerCli.settle) and
 * timeouts killed the pipeline itself, exit 1, with its containers left behind. Each case runs in a child whose
 * PATH has no `ps`, as in that image.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { repoRoot } from "../../../helpers/proc.js";

function runWithoutPs(code: string) {
  // zx runs commands through bash, found on PATH; nothing else is there.
  const bin = mkdtempSync(join(tmpdir(), "no-ps-"));
  symlinkSync("/bin/bash", join(bin, "bash"));
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: repoRoot,
    encoding: "utf8",
    env: { PATH: bin, HOME: process.env.HOME },
    timeout: 60_000,
  });
  rmSync(bin, { recursive: true, force: true });
  const out = r.stdout.trim().split("\n").at(-1) ?? "";
  return {
    status: r.status,
    stderr: r.stderr,
    result: out.startsWith("{") ? JSON.parse(out) : undefined,
  };
}

test("a timeout stops the process without ps: the caller gets its outcome and lives on", () => {
  const r = runWithoutPs(`
    import { exec } from "./ci/lib/process.ts";
    const t = Date.now();
    const r = await exec(["/bin/sh", "-c", "echo started; exec /bin/sleep 30"], { timeoutMs: 300 });
    console.log(JSON.stringify({ exitCode: r.exitCode, stdout: r.stdout, ms: Date.now() - t }));
  `);
  assert.is(r.status, 0, r.stderr);
  // It ran, and was stopped by the timeout, not at once and not at its end.
  assert.is(r.result?.stdout, "started\n", r.stderr);
  assert.is(r.result.exitCode, -1);
  assert.ok(r.result.ms >= 300 && r.result.ms < 20_000, `stopped after ${r.result.ms} ms`);
});

test("DockerCli.settle (Ctrl-C) kills a long call's whole process group without ps, grandchildren included", () => {
  const r = runWithoutPs(`
    import { readFileSync } from "node:fs";
    import { DockerCli } from "./ci/engines/docker/cli.ts";
    const cli = new DockerCli("/bin/sh");
    // A child that starts a grandchild in its group and prints its pid.
    let grandchild = 0;
    const p = cli.start(["-c", "/bin/sleep 30 & echo $!; wait"], {
      onLine: (l) => { grandchild ||= Number(l); },
    });
    while (!grandchild) await new Promise((r) => setTimeout(r, 20));
    await cli.settle(5_000);
    const r = await p;
    console.log(JSON.stringify({ exitCode: r.exitCode, signal: r.signal, grandchild }));
  `);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.result?.signal, "SIGKILL", r.stderr);
  const pid = r.result.grandchild as number;
  assert.ok(pid > 0);
  // Gone, or at most a zombie waiting for init to reap it.
  const stat = `/proc/${pid}/stat`;
  const state = existsSync(stat) ? readFileSync(stat, "utf8").split(") ")[1]?.[0] : "gone";
  assert.ok(state === "gone" || state === "Z", `the grandchild ${pid} is still ${state}`);
});

test.run();
