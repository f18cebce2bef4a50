/**
 * Ctrl-C as a terminal sends it: SIGINT to the whole process group of `npx tsx ci/main.ts` (npx, tsx and the
 * pipeline all get it), at several points of a run on the Docker engine. Each time the pipeline must end and
 * leave no container, network or volume of its run behind.
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { startReaper } from "../../../../../ci/engines/docker/reaper.js";
import { chooseDockerBin } from "../../../../../ci/lib/docker-bin.js";
import { exec } from "../../../../../ci/lib/process.js";
import { CA_BUNDLE } from "../../../../helpers/ca.js";
import { dockerTest } from "../../../../helpers/docker.js";
import { configWithoutApt } from "../../../../helpers/fixture-repo.js";

const repo = process.cwd();
const dirs: string[] = [];

/**
 * A tiny repo whose unit test waits, so there is a step to interrupt; `marker` is in its command line. No apt
 * packages.
 */
function fixture(marker: string): { dir: string; config: string } {
  const dir = mkdtempSync(join(tmpdir(), "codex-ci-interrupt-"));
  dirs.push(dir);
  const pkg = {
    name: "codex-ci-interrupt",
    version: "0.0.0",
    private: true,
    scripts: {
      "test:unit": `node -e "console.log('tests running'); setTimeout(() => {}, 120000) // ${marker}"`,
    },
  };
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
  writeFileSync(
    join(dir, "package-lock.json"),
    `${JSON.stringify({ name: pkg.name, version: pkg.version, lockfileVersion: 3, requires: true, packages: { "": { name: pkg.name, version: pkg.version } } }, null, 2)}\n`,
  );
  mkdirSync(join(dir, "ci"));
  return { dir, config: configWithoutApt(join(dir, "ci", "pipeline.yaml")) };
}

/** What a run left in Docker, by its label. */
async function leftovers(runId: string): Promise<string> {
  const q = async (args: string[]) =>
    (await exec(["docker", ...args, "--filter", `label=codex-ci.run=${runId}`])).stdout.trim();
  return [await q(["ps", "-aq"]), await q(["network", "ls", "-q"]), await q(["volume", "ls", "-q"])]
    .filter(Boolean)
    .join(" ");
}

/**
 * Starts `npx tsx ci/main.ts` in a process group of its own, as a shell would for a terminal job; sends the
 * group SIGINT once `when(output)` holds; returns the exit and the output.
 */
async function interruptWhen(
  runId: string,
  when: (out: string) => boolean,
): Promise<{ code: number | null; signal: string | null; out: string; sentAfter: string }> {
  const { dir, config } = fixture(`wait-${runId}`);
  const child = spawn(
    "npx",
    [
      "--prefix",
      repo,
      "tsx",
      join(repo, "ci", "main.ts"),
      "test",
      "--node",
      "26",
      "--only",
      "unit",
      "--engine",
      "docker",
      "--no-cache",
      "-j",
      "1",
      "--config",
      config,
    ],
    {
      cwd: dir,
      detached: true,
      env: { ...process.env, CODEX_CI_RUN_ID: runId, NODE_EXTRA_CA_CERTS: CA_BUNDLE },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d;
  });
  child.stderr.on("data", (d: Buffer) => {
    out += d;
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.on("exit", (code, signal) => r({ code, signal })),
  );
  const t0 = Date.now();
  while (!when(out) && Date.now() - t0 < 240_000 && child.exitCode === null)
    await new Promise((r) => setTimeout(r, 25));
  const sentAfter = out.trim().split("\n").at(-1) ?? "(nothing yet)";
  process.kill(-(child.pid as number), "SIGINT");
  const guard = setTimeout(() => process.kill(-(child.pid as number), "SIGKILL"), 180_000);
  const { code, signal } = await exited;
  clearTimeout(guard);
  return { code, signal, out, sentAfter };
}

const points: [string, (out: string) => boolean][] = [
  ["as it starts, before the engine opens", () => true],
  ["as the run begins (containers being created)", (o) => o.includes("[pipeline] run ")],
  ["while a step runs in the container", (o) => o.includes("$ npm ci")],
  ["while the tests run", (o) => o.includes("tests running")],
];

/** Whether a process with `marker` in its command line runs on this host (containers' processes included). */
const running = async (marker: string) => (await exec(["pgrep", "-f", marker])).exitCode === 0;

for (const [i, [point, when]] of points.entries())
  dockerTest(
    test,
    `group SIGINT ${point}: nothing of the run is left in Docker and no step still runs`,
    async () => {
      const runId = `int${process.pid.toString(36)}-${i}`;
      const r = await interruptWhen(runId, when);
      // When a wrapper (tsx) kills the pipeline mid-cleanup, its reaper finishes the job a moment later; a
      // leak (a `sleep 86400` container, the tests still running) would still be there after any grace.
      let left = await leftovers(runId);
      for (let k = 0; k < 60 && (left || (await running(`wait-${runId}`))); k++) {
        await new Promise((res) => setTimeout(res, 250));
        left = await leftovers(runId);
      }
      assert.is(
        left,
        "",
        `left behind after SIGINT (sent after: ${r.sentAfter})\n${r.out.slice(-1500)}`,
      );
      assert.not.ok(
        await running(`wait-${runId}`),
        `the tests still run after SIGINT (sent after: ${r.sentAfter})\n${r.out.slice(-1500)}`,
      );
      assert.ok(
        r.code === 130 || r.signal === "SIGINT",
        `exit ${r.code} / ${r.signal} after SIGINT\n${r.out.slice(-1500)}`,
      );
    },
  );

dockerTest(
  test,
  "the reaper removes a run's containers, networks and volumes once the pipeline's process is gone",
  async () => {
    const runId = `reap${process.pid.toString(36)}`;
    const parent = spawn("sleep", ["60"], { stdio: "ignore" });
    const label = `codex-ci.run=${runId}`;
    const docker = await chooseDockerBin(process.env);
    await exec([docker, "network", "create", "--label", label, `codex-ci-${runId}`]);
    await exec([docker, "volume", "create", "--label", label, `codex-ci-${runId}`]);
    const made = await exec([
      docker,
      "run",
      "-d",
      "--label",
      label,
      "--network",
      `codex-ci-${runId}`,
      "node:26-bookworm-slim",
      "sleep",
      "600",
    ]);
    assert.is(made.exitCode, 0, made.stderr);
    startReaper(docker, runId, parent.pid as number);
    await new Promise((r) => setTimeout(r, 1500));
    assert.is.not(await leftovers(runId), "", "nothing is removed while the pipeline lives");
    parent.kill("SIGKILL");
    let left = await leftovers(runId);
    for (let i = 0; i < 80 && left; i++) {
      await new Promise((r) => setTimeout(r, 250));
      left = await leftovers(runId);
    }
    assert.is(left, "", "the reaper removed everything of the run");
  },
);

test.after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
test.run();
