/** Contract tests: the real Dagger SDK (pinned 0.21.9) against the recording GraphQL server, for lint and test. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { setWriter } from "../../../../../ci/lib/log.js";
import { main } from "../../../../../ci/main.js";
import { monitoringChecks } from "../../../../../ci/stages/lint/monitoring.js";
import {
  type Answer,
  HOLD,
  type Recorder,
  startRecorder,
} from "../../../../helpers/dagger-recorder.js";
import { saveEnv } from "../../../../helpers/env.js";

const MARKER = `secret-marker-${process.pid}`;
const dir = mkdtempSync(join(tmpdir(), "dagger-contract-"));
const caFile = join(dir, "ca.pem");
writeFileSync(caFile, `-----BEGIN CERTIFICATE-----\n${MARKER}\n-----END CERTIFICATE-----\n`);

/** The recorder of the pipeline running now, for answers that watch it. */
let current: Recorder | undefined;

/** Runs the CLI in-process against a fresh recorder; returns exit code, output and the recorded chains. */
async function pipeline(args: string[], answer?: Answer) {
  const rec = await startRecorder(answer);
  current = rec;
  const restoreEnv = saveEnv();
  Object.assign(process.env, rec.env);
  let out = "";
  setWriter((t) => {
    out += t;
  });
  try {
    const code = await main([...args, "--engine", "dagger", "--ca-file", caFile]);
    return { code, out, rec, queries: rec.normalised(), chains: rec.chains() };
  } finally {
    setWriter((t) => process.stdout.write(t));
    restoreEnv();
    await rec.close();
  }
}

/** The chains that run a container from `image`. */
const containersFrom = (chains: string[][], image: string) =>
  chains.filter((c) => c[0] === "container" && c[1] === `from(address: "${image}")`);

/** The exec argv of a chain, in order. */
const execs = (chain: string[]) =>
  chain.filter((op) => op.startsWith("withExec(")).map((op) => /args: (\[[^\]]*\])/.exec(op)?.[1]);

/** The longest chain (the last step's) of each distinct container. */
const longest = (chains: string[][]) => chains.reduce((a, b) => (b.length > a.length ? b : a), []);

test("the contract is recorded against the pinned SDK 0.21.9", () => {
  const pkg = JSON.parse(readFileSync("package.json", "utf8"));
  const sdk = JSON.parse(readFileSync("node_modules/@dagger.io/dagger/package.json", "utf8"));
  assert.is(pkg.devDependencies["@dagger.io/dagger"], "0.21.9");
  assert.is(sdk.version, "0.21.9");
});

test("lint: node image, source, npm cache volume, CA as a plain file, execs in order", async () => {
  const { code, queries, chains, rec } = await pipeline(["lint"]);
  assert.is(code, 0);
  assert.is(rec.refused, 0);
  assert.ok(queries.includes('{ cacheVolume(key: "codex-ci-npm") { id } }'));
  assert.ok(
    queries.some((q) =>
      q.includes(`host { directory( path: "${process.cwd()}" exclude: ["node_modules", ".git"`),
    ),
  );
  const lint = longest(containersFrom(chains, "node:26-bookworm-slim"));
  for (const op of [
    'withDirectory(path: "/src", source: "<id:directory>")',
    'withMountedCache(path: "/root/.npm", cache: "<id:cacheVolume>")',
    'withFile(path: "/usr/local/share/codex-ci/ca.pem", source: "<id:file>")',
    'withEnvVariable(name: "NODE_EXTRA_CA_CERTS", value: "/usr/local/share/codex-ci/ca.pem")',
    'withWorkdir(path: "/src")',
  ])
    assert.ok(lint.includes(op), `missing ${op}`);
  // promtool for the dashboard check comes from Debian's package, before npm ci.
  assert.equal(execs(lint).slice(0, 5), [
    '["apt-get", "update", "-qq"]',
    '["apt-get", "install", "-y", "-qq", "--no-install-recommends", "prometheus"]',
    '["npm", "ci", "--prefer-offline"]',
    '["npm", "run", "--silent", "typecheck"]',
    '["npx", "biome", "ci", "--colors=off", "."]',
  ]);
  assert.ok(lint.every((op) => !op.startsWith("withExec(") || op.includes("expect: ANY")));
  // apt runs before the source goes in, so Dagger caches it across source changes.
  const at = (pattern: string) => lint.findIndex((op) => op.includes(pattern));
  assert.ok(at('"apt-get", "install"') < at('withDirectory(path: "/src"'), "apt before the source");
  assert.ok(at('withDirectory(path: "/src"') < at('"npm", "ci"'), "source before npm ci");
  assert.ok(lint[0] === "container", "no platform: lint runs on the host's platform");
  // The CA bundle is uploaded as a file (no size limit), not through setSecret (128,000 bytes at most).
  assert.ok(queries.includes(`{ host { file(path: "${caFile}") { id } } }`));
});

test("lint: monitoring checks run in the pinned Prometheus and Alertmanager images", async () => {
  const checks = monitoringChecks;
  assert.ok(checks.length > 0);
  const { chains } = await pipeline(["lint"]);
  for (const [image, tool] of [
    ["prom/prometheus:v2.42.0", "prometheus"],
    ["prom/alertmanager:v0.25.0", "alertmanager"],
  ] as const) {
    const run = longest(containersFrom(chains, image));
    const expected = checks
      .filter((c) => c.image === tool)
      .map((c) => JSON.stringify(c.args).replaceAll(",", ", "));
    assert.equal(execs(run), expected, image);
    assert.ok(run.includes('withWorkdir(path: "/src")'));
  }
});

test("test: one container per cell from node:<v>-bookworm-slim; e2e gets a docker:dind service, never a host socket", async () => {
  const { code, chains, out } = await pipeline(["test"]);
  assert.is(code, 0, out);
  for (const v of ["22", "24", "26"]) {
    const cells = containersFrom(chains, `node:${v}-bookworm-slim`);
    const runs = new Set(cells.map((c) => execs(c).at(-1)));
    assert.ok(runs.has('["npm", "run", "--silent", "test:unit"]'), `node ${v} unit`);
    assert.ok(runs.has('["npm", "run", "--silent", "test:integration"]'), `node ${v} integration`);
    assert.is(runs.has('["npm", "run", "--silent", "test:e2e"]'), v === "26", `node ${v} e2e`);
    assert.ok(
      cells.every((c) =>
        c.includes('withMountedCache(path: "/root/.npm", cache: "<id:cacheVolume>")'),
      ),
    );
  }
  assert.not.ok(
    chains.some((c) => c.some((op) => op.startsWith("withUnixSocket"))),
    "no test cell mounts a host socket",
  );
  const e2e = longest(
    containersFrom(chains, "node:26-bookworm-slim").filter((c) =>
      execs(c).at(-1)?.includes("test:e2e"),
    ),
  );
  for (const op of [
    'withServiceBinding(alias: "docker", service: "<id:asService>")',
    'withEnvVariable(name: "DOCKER_HOST", value: "tcp://docker:2375")',
    'withEnvVariable(name: "REQUIRE_DOCKER", value: "1")',
    'withWorkdir(path: "/src")',
  ])
    assert.ok(e2e.includes(op), `e2e cell: missing ${op}`);
  const daemon = longest(containersFrom(chains, "docker:28-dind"));
  assert.equal(daemon.slice(2), [
    // PRIVATE: a concurrent session gets a fresh volume, never a second daemon on the same data directory.
    'withMountedCache(path: "/var/lib/docker", cache: "<id:cacheVolume>", sharing: PRIVATE)',
    'withEnvVariable(name: "DOCKER_TLS_CERTDIR", value: "")',
    "withExposedPort(port: 2375)",
    "asService(args: [], useEntrypoint: true, insecureRootCapabilities: true)",
    "id",
  ]);
  assert.ok(
    chains.some((c) => c.join(" ") === 'cacheVolume(key: "codex-ci-dind-node26") id'),
    "the daemon's data in a cache volume of its own",
  );
  const unit = longest(containersFrom(chains, "node:22-bookworm-slim"));
  assert.not.ok(
    unit.some((op) => op.startsWith("withServiceBinding")),
    "only e2e cells get a daemon",
  );
  assert.ok(
    unit.includes('withEnvVariable(name: "REQUIRE_DOCKER", value: "1")'),
    "unit and integration cells run with REQUIRE_DOCKER=1 too: a skip fails them",
  );
});

test("the CA bundle's content never goes through GraphQL or the output: it travels as a file", async () => {
  const { out, queries, rec } = await pipeline(["lint", "test", "--only", "unit"]);
  const raw = rec.queries.map((q) => q.query);
  assert.equal(
    raw.filter((q) => q.includes(MARKER)),
    [],
  );
  assert.not.ok(out.includes(MARKER));
  assert.not.ok(
    queries.some((q) => q.includes("setSecret")),
    "no secret for a public CA bundle",
  );
  assert.ok(queries.some((q) => q.includes(`file(path: "${caFile}")`)));
});

test("failing cells are all reported and the run exits 1 naming the step", async () => {
  const { code, out } = await pipeline(
    ["test", "--node", "20,22", "--only", "unit,integration"],
    (field, chain) =>
      field === "exitCode" && chain.at(-1)?.includes('"test:unit"') ? 3 : undefined,
  );
  assert.is(code, 1, out);
  assert.match(out, /node20\/unit: step "test:unit" failed with exit code 3/);
  assert.match(out, /node22\/unit: step "test:unit" failed with exit code 3/);
  assert.match(out, /2 of 4 failed: node20\/unit, node22\/unit/);
  assert.match(out, /node22\/integration\s+✔ passed/);
});

test("--fail-fast: the first failing cell cuts the running cells' queries, and queued cells never start", async () => {
  const until = async (ok: () => boolean) => {
    while (!ok()) await new Promise((r) => setTimeout(r, 20));
  };
  const answer: Answer = async (field, chain) => {
    if (field !== "exitCode" || !chain.at(-1)?.includes('"test:unit"')) return undefined;
    // node 24 is still running its tests when node 22 fails; node 26 waits for a --jobs slot.
    if (chain[1]?.includes("node:24")) return HOLD;
    await until(() => (current?.held ?? 0) > 0);
    return 3;
  };
  const guard = new Promise<never>((_, fail) =>
    setTimeout(
      () => fail(new Error("the held query was never cut: --fail-fast did not cancel")),
      60_000,
    ).unref(),
  );
  const { code, out, rec, chains } = await Promise.race([
    pipeline(["test", "--node", "22,24,26", "--only", "unit", "--fail-fast", "-j", "2"], answer),
    guard,
  ]);
  assert.is(code, 1, out);
  assert.is(rec.cut, 1, "node24's in-flight query was cut off");
  assert.match(out, /test node22\/unit\s+✘ failed/);
  assert.match(out, /test node24\/unit\s+– skipped\s+\S+\s+cancelled/);
  assert.match(out, /test node26\/unit\s+– skipped\s+\S+\s+cancelled/);
  assert.equal(
    containersFrom(chains, "node:26-bookworm-slim"),
    [],
    "node26 never reached the engine",
  );
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
