import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  checkFitsHost,
  environmentName,
  loadEnvironment,
  parseBytes,
  parseEnvironment,
} from "../../../../../ci/stages/deploy/environments.js";

const root = process.cwd();
const good = `services:
  app:
    environment:
      CODEX_ENVIRONMENT: testing
      CODEX_LOG_LEVEL: info
      CODEX_MAX_CONCURRENT: "10"
    cpus: 1.0
    mem_limit: 1g
    mem_reservation: 256m
`;
const MiB = 1024 ** 2;

test("each environment file carries the design's log level, concurrency and limits", async () => {
  const expected = {
    development: ["debug", 5, 0.5, 512 * MiB, 128 * MiB],
    testing: ["info", 10, 1, 1024 * MiB, 256 * MiB],
    staging: ["info", 20, 2, 2048 * MiB, 512 * MiB],
    production: ["warn", 50, 4, 4096 * MiB, 1024 * MiB],
  } as const;
  for (const [name, [level, conc, cpus, mem, res]] of Object.entries(expected)) {
    const env = await loadEnvironment(root, name);
    assert.equal(
      [env.logLevel, env.maxConcurrent, env.cpus, env.memLimit, env.memReservation],
      [level, conc, cpus, mem, res],
      name,
    );
    assert.is(env.file, `docker/environments/${name}.yaml`);
  }
});

test("an unknown environment name is a clear error", async () => {
  assert.throws(
    () => environmentName("prod"),
    /--env: unknown environment "prod"; expected one of development, testing, staging, production/,
  );
  try {
    await loadEnvironment(root, "qa");
    assert.unreachable();
  } catch (e) {
    assert.match((e as Error).message, /unknown environment "qa"/);
  }
});

test("bad values name the file, line and key", () => {
  const bad = (from: string, to: string, re: RegExp) =>
    assert.throws(() => parseEnvironment(good.replace(from, to), "t.yaml", "testing"), re);
  bad(
    '"10"',
    '"ten"',
    /t.yaml:6:\d+: services.app.environment.CODEX_MAX_CONCURRENT: "ten" is not a positive integer/,
  );
  bad('"10"', '"0"', /CODEX_MAX_CONCURRENT: "0" is not a positive integer/);
  bad(
    "LEVEL: info",
    "LEVEL: verbose",
    /t.yaml:5:\d+: services.app.environment.CODEX_LOG_LEVEL: "verbose" is not one of debug/,
  );
  bad("cpus: 1.0", "cpus: lots", /t.yaml:7:\d+: services.app.cpus: "lots" is not a CPU count/);
  bad(
    "mem_limit: 1g",
    "mem_limit: 1Gi",
    /services.app.mem_limit: "1Gi" is not a size such as 512m or 1g/,
  );
  bad("mem_reservation: 256m", "mem_reservation: 2g", /mem_reservation: 2g is above mem_limit 1g/);
  bad(
    "ENVIRONMENT: testing",
    "ENVIRONMENT: staging",
    /CODEX_ENVIRONMENT: is "staging", expected "testing"/,
  );
  bad(
    "    cpus: 1.0",
    "    replicas: 2\n    cpus: 1.0",
    /t.yaml:7:\d+: services.app.replicas: unknown key/,
  );
  bad(
    "  app:",
    "  prometheus: {}\n  app:",
    /services.prometheus: only services.app may be overridden/,
  );
  bad("    cpus: 1.0\n", "", /services.app.cpus: missing/);
});

test("a secret in an environment file is refused", () => {
  assert.throws(
    () =>
      parseEnvironment(
        good.replace("      CODEX_LOG", "      GITHUB_TOKEN: ghp_x\n      CODEX_LOG"),
        "t.yaml",
        "testing",
      ),
    /t.yaml:5:\d+: services.app.environment.GITHUB_TOKEN: secrets never live in the repo/,
  );
});

test("an environment that needs more CPUs than the host is an error naming the file", async () => {
  const prod = await loadEnvironment(root, "production");
  assert.throws(
    () => checkFitsHost(prod, 2),
    /docker\/environments\/production.yaml: services.app.cpus 4 is more than the Docker host's 2 CPUs/,
  );
  checkFitsHost(prod, 8);
});

test("compose byte sizes", () => {
  assert.is(parseBytes("512m"), 512 * MiB);
  assert.is(parseBytes("1g"), 1024 * MiB);
  assert.is(parseBytes("100"), 100);
  assert.is(parseBytes("1Gi"), undefined);
});

test.run();
