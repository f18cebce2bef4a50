/**
 * The Docker engine for real: `lint` and a one-cell `test` on the local daemon with the offline node images,
 * a failing step, and Ctrl-C cleanup. Runs the CLI on a small fixture repo (the repo's own package.json and
 * lockfile, so npm ci is served from the npm cache volume) so results do not depend on work in progress.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CA_BUNDLE } from "../../../../helpers/ca.js";
import { dockerTest, leftovers } from "../../../../helpers/docker.js";
import { configWithoutApt, fixtureRepo } from "../../../../helpers/fixture-repo.js";

const repo = process.cwd();
const MAIN = join(repo, "ci", "main.ts");
const TSX = fileURLToPath(import.meta.resolve("tsx"));
const CONFIG = join(repo, "ci", "pipeline.yaml");
const fixtures: string[] = [];
const children: ChildProcess[] = [];

/** A fixture repo, removed after the suite. */
function fixture(unitTest: string): string {
  const dir = fixtureRepo(unitTest);
  fixtures.push(dir);
  return dir;
}

/** The config without apt, in the fixture `dir`. The rerun and e2e-cell tests keep the packages. */
const withoutApt = (dir: string): string => configWithoutApt(join(dir, "pipeline.yaml"));

const passing = `import assert from "node:assert/strict";
import { test } from "node:test";

test("adds", () => assert.equal(1 + 1, 2));
`;

/** Starts the CLI in `cwd`; output collected. */
function cli(
  cwd: string,
  args: string[],
  extraEnv: Record<string, string> = {},
): { child: ChildProcess; output: () => string; done: Promise<number> } {
  let out = "";
  const child = spawn(
    process.execPath,
    ["--import", TSX, MAIN, "--config", CONFIG, "--engine", "docker", ...args],
    {
      cwd,
      env: {
        ...process.env,
        NODE_EXTRA_CA_CERTS: CA_BUNDLE,
        ...extraEnv,
      },
    },
  );
  children.push(child);
  child.stdout?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const done = new Promise<number>((r) =>
    child.on("close", (code, signal) => r(code ?? (signal ? 128 : -1))),
  );
  return { child, output: () => out, done };
}

// A node script run in a container: exit 0 when some other process there has argv[1] in its command line.
const PROCESS_WITH = `const fs = require("node:fs");
const own = String(process.pid);
const found = fs.readdirSync("/proc").some((p) => {
  if (!/^\\d+$/.test(p) || p === own) return false;
  try { return fs.readFileSync("/proc/" + p + "/cmdline", "utf8").includes(process.argv[1]); } catch { return false; }
});
process.exit(found ? 0 : 1);`;

/**
 * Whether a process with `marker` in its argv runs in one of the run's containers, asked inside them with the
 * image's own node: the daemon may be remote (an e2e cell's dind), so the local process table says nothing, and
 * `docker top` needs a `ps` the dind image lacks.
 */
function running(marker: string, runId: string): boolean {
  if (!runId) return false;
  const ids = spawnSync("docker", ["ps", "-q", "--filter", `label=codex-ci.run=${runId}`], {
    encoding: "utf8",
  }).stdout.split("\n");
  return ids
    .filter(Boolean)
    .some(
      (id) => spawnSync("docker", ["exec", id, "node", "-e", PROCESS_WITH, marker]).status === 0,
    );
}

/** The run ID the CLI prints first. */
const runIdOf = (out: string) => /\[pipeline\] run (\S+) on docker/.exec(out)?.[1] ?? "";

dockerTest(
  test,
  "lint and a one-cell test pass on the Docker engine, with prefixed lines and a summary",
  async () => {
    const dir = fixture(passing);
    const summary = join(dir, "summary.md");
    // --no-cache runs every step afresh, so no apt packages: they are not what this test is about, and the
    // rerun and e2e-cell tests below install them.
    const args = [
      "lint",
      "test",
      "--node",
      "22",
      "--only",
      "unit",
      "--json",
      "report.json",
      "--no-cache",
      "--config",
      withoutApt(dir),
    ];
    const run = cli(dir, args, { GITHUB_STEP_SUMMARY: summary });
    const code = await run.done;
    const out = run.output();
    assert.is(code, 0, out.slice(-3000));
    assert.match(out, /\[lint node\] \$ npm ci --prefer-offline/);
    assert.match(out, /\[test node22\/unit\] \$ npm run --silent test:unit/);
    assert.match(out, /\[test node22\/unit\] .*pass 1/);
    assert.match(out, /lint typecheck\s+✔ passed/);
    assert.match(out, /lint biome\s+✔ passed/);
    assert.match(out, /test node22\/unit\s+✔ passed/);
    const report = JSON.parse(
      spawnSync("cat", [join(dir, "report.json")], { encoding: "utf8" }).stdout,
    );
    assert.is(report.status, "passed");
    const md = readFileSync(summary, "utf8");
    assert.match(md, /\| stage \| status \| time \| detail \|/);
    assert.match(md, /\| test node22\/unit \| ✔ passed \|/);
    assert.equal(
      report.stages.map((s: { stage: string }) => s.stage),
      ["lint", "test"],
    );
    assert.is(leftovers(runIdOf(out)), "");
  },
);

dockerTest(test, "a failing step exits 1 and names the cell and the step", async () => {
  const dir = fixture(passing.replace("1 + 1, 2", "1 + 1, 3"));
  writeFileSync(
    join(dir, "src", "add.ts"),
    "export const add = (a: number, b: number): string => a + b;\n",
  );
  const run = cli(dir, ["lint", "test", "--node", "22", "--only", "unit"]);
  const code = await run.done;
  const out = run.output();
  assert.is(code, 1, out.slice(-3000));
  assert.ok(/node22\/unit: step "test:unit" failed with exit code 1/.test(out), out.slice(-3000));
  assert.match(out, /lint typecheck\s+✘ failed\s+\S+\s+exit code 2/);
  assert.match(out, /lint biome\s+✔ passed/); // every lint check runs even after one fails
  assert.is(leftovers(runIdOf(out)), "");
});

dockerTest(
  test,
  "Ctrl-C ends the step and leaves no containers, networks or volumes behind",
  async () => {
    // The test blocks in a sleep whose argv is unique, so the run's containers show whether it still runs.
    const sleep = `900.${process.pid}${Date.now() % 100000}`;
    const dir = fixture(
      passing.replace(
        'test("adds"',
        `import { spawnSync } from "node:child_process";\ntest("waits", () => { spawnSync("sleep", ["${sleep}"]); });\ntest("adds"`,
      ),
    );
    // No apt packages: the point is the interrupted step.
    const config = withoutApt(dir);
    const run = cli(dir, ["test", "--node", "22", "--only", "unit", "--config", config]);
    const t0 = Date.now();
    while (
      !running(sleep, runIdOf(run.output())) &&
      run.child.exitCode === null &&
      Date.now() - t0 < 180_000
    )
      await new Promise((r) => setTimeout(r, 200));
    const runId = runIdOf(run.output());
    if (!runId || !running(sleep, runId)) run.child.kill("SIGKILL");
    assert.ok(runId, run.output());
    assert.ok(
      running(sleep, runId),
      `the test's sleep never started\n${run.output().slice(-2000)}`,
    );
    assert.is.not(leftovers(runId), "", "the run's container exists before Ctrl-C");
    run.child.kill("SIGINT");
    const code = await run.done;
    assert.is(code, 130, run.output().slice(-2000));
    assert.is(leftovers(runId), "");
    for (let i = 0; i < 40 && running(sleep, runId); i++)
      await new Promise((r) => setTimeout(r, 250));
    assert.not.ok(running(sleep, runId), "the step's process still runs after Ctrl-C");
  },
);

dockerTest(
  test,
  "an unchanged rerun is served from step snapshots; a changed file reruns only what follows the source",
  async () => {
    const dir = fixture(passing.replace("adds", `adds ${process.pid}-${Date.now()}`));
    const args = ["test", "--node", "22", "--only", "unit"];
    const first = cli(dir, args);
    assert.is(await first.done, 0, first.output().slice(-2000));
    assert.not.match(first.output(), /\$ npm (ci|run).*\(cached\)/);
    const second = cli(dir, args);
    assert.is(await second.done, 0, second.output().slice(-2000));
    assert.match(
      second.output(),
      /\[test node22\/unit\] \$ npm run --silent test:unit {3}\(cached\)/,
    );
    assert.match(second.output(), /test node22\/unit\s+✔ passed\s+\S+\s+cached/);
    writeFileSync(
      join(dir, "test", "add.test.mjs"),
      passing.replace("adds", `adds again ${Date.now()}`),
    );
    const third = cli(dir, args);
    const out = third.output;
    assert.is(await third.done, 0, out().slice(-2000));
    // The apt setup steps come before the source, like `RUN apt-get` before `COPY . .`.
    assert.match(out(), /\[test node22\/unit\] \$ apt-get install .* {3}\(cached\)/);
    assert.not.match(out(), /\$ npm (ci|run).*\(cached\)/);
    assert.match(out(), /pass 1/);
  },
);

dockerTest(
  test,
  "--jobs 1 runs the cells one after another; the second waits in the queue",
  async () => {
    // Each cell's test prints when it ran; no apt packages, so a cell is npm ci from the cache volume + 2 s.
    const dir = fixture(`import { test } from "node:test";
test("window", async () => {
  const start = Date.now();
  await new Promise((r) => setTimeout(r, 2000));
  console.log(\`window \${start} \${Date.now()} ${Date.now()}\`);
});
`);
    const config = withoutApt(dir);
    const run = cli(dir, [
      "test",
      "--node",
      "22,24",
      "--only",
      "unit",
      "--jobs",
      "1",
      "--config",
      config,
    ]);
    const code = await run.done;
    const out = run.output();
    assert.is(code, 0, out.slice(-3000));
    assert.match(out, /\[test node2[24]\/unit\] queued: all 1 job slots are busy \(--jobs\)/);
    const windows = ["22", "24"].map((v) => {
      const m = new RegExp(`\\[test node${v}/unit\\] .*window (\\d+) (\\d+)`).exec(out);
      assert.ok(m, `node${v} printed its window\n${out.slice(-2000)}`);
      return [Number(m?.[1]), Number(m?.[2])] as const;
    });
    const [a, b] = windows as [readonly [number, number], readonly [number, number]];
    assert.ok(a[1] <= b[0] || b[1] <= a[0], `windows overlap: ${JSON.stringify(windows)}`);
    assert.is(leftovers(runIdOf(out)), "");
  },
);

dockerTest(
  test,
  "an e2e cell gets a Docker daemon of its own as a service, shares nothing with the host's, and leaves nothing",
  async () => {
    const dir = fixture(passing);
    const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    // The daemon answers at tcp://docker:2375, is not the host's (another ID), and runs containers from the
    // preloaded base image; no host socket and no host path are in the cell.
    const hostId = spawnSync("docker", ["info", "--format", "{{.ID}}"], {
      encoding: "utf8",
    }).stdout.trim();
    pkg.scripts["test:e2e"] = [
      'test "$DOCKER_HOST" = tcp://docker:2375',
      "test ! -e /var/run/docker.sock",
      `test "$(docker info --format '{{.ID}}')" != "${hostId}"`,
      "docker version --format 'server {{.Server.Version}}'",
      "docker run --rm node:26-bookworm-slim node -e 'console.log(\"inner container ran\")'",
    ].join(" && ");
    writeFileSync(join(dir, "package.json"), `${JSON.stringify(pkg, null, 2)}\n`);
    const run = cli(dir, ["test", "--node", "26", "--only", "e2e"]);
    const code = await run.done;
    const out = run.output();
    assert.is(code, 0, out.slice(-3000));
    assert.match(out, /\[test node26\/e2e\] server \d+\.\d+/);
    assert.match(out, /\[test node26\/e2e\] inner container ran/);
    assert.match(
      out,
      /service docker: .*(--privileged|SYS_ADMIN)/,
      "says how the daemon got its rights",
    );
    assert.match(out, /service docker: (loaded .*docker save \| docker load|no image to load)/);
    assert.is(leftovers(runIdOf(out)), "");
  },
);

test.after(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGINT");
  for (const d of fixtures) rmSync(resolve(d), { recursive: true, force: true });
});
test.run();
