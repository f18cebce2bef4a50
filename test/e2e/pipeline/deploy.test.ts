/**
 * E2E on the Docker engine: `deploy` of the compose stack to healthy (Prometheus scraping the app), a
 * daemon without the image loading the build's tarball, rollbacks (to the running tag, to the state file's tag
 * with the stack down, and one that is itself unhealthy) with the sessions volume intact, and `deploy --down`
 * keeping named volumes unless `--volumes`. Reuses the app image of the build suite.
 *
 * Each test sets up what it needs (`deployed()`), so any one runs alone or in any order. The stack's ports are
 * left to the daemon (empty host ports) and its settings are passed to the stage, never put in process.env.
 * Nothing here assumes the daemon shares this machine's disk or network: checks go through `docker exec`.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { PipelineConfig } from "../../../ci/config.js";
import type { Engine } from "../../../ci/engine.js";
import { nativePlatform } from "../../../ci/lib/platform.js";
import type { Settings, StageOptions, StageResult } from "../../../ci/stage.js";
import type { BuildManifest } from "../../../ci/stages/build/manifest.js";
import { deploy } from "../../../ci/stages/deploy/index.js";
import type { DeployState } from "../../../ci/stages/deploy/state.js";
import { dockerTest } from "../../helpers/docker.js";
import {
  cleanup,
  context,
  DOCKER_BIN,
  docker,
  dockerTry,
  e2eConfig,
  engine,
  id,
  onCleanup,
  sharedBuild,
  tempRoot,
} from "./harness.js";

const project = `codex-e2e-${id}`;
/** What the stage is told about the stack: the daemon picks every host port; quick healthchecks. */
const stack: Partial<Settings> = {
  composeProject: project,
  stackEnv: {
    CODEX_MCP_HOST_PORT: "",
    CODEX_METRICS_HOST_PORT: "",
    PROMETHEUS_HOST_PORT: "",
    ALERTMANAGER_HOST_PORT: "",
    CODEX_HEALTH_INTERVAL: "3s",
    MONITORING_HEALTH_INTERVAL: "3s",
  },
};

interface Setup {
  e: Engine;
  config: PipelineConfig;
  /** The deploy root (a temp copy of the repo's build context and docker/). */
  root: string;
  manifest: BuildManifest;
  /** The app image the build made: `<name>:<deployTag>`. */
  good: string;
}

let setup: Promise<Setup> | undefined;
/** Engine, config, the native build and the deploy root, made once for whichever test comes first. */
function ready(): Promise<Setup> {
  setup ??= (async () => {
    const e = await engine();
    const config = await e2eConfig();
    config.deploy.timeoutSeconds = 240;
    const { manifest } = await sharedBuild(
      e,
      { ...config, platforms: [nativePlatform()] },
      tempRoot(),
    );
    const root = tempRoot();
    const good = `${config.image.name}:${manifest.deployTag}`;
    onCleanup(() => {
      // Whatever happened (also on Ctrl-C, hence synchronous): the stack, its volumes and its config images.
      const files = ["-f", "docker/compose.yaml", "-f", "docker/environments/development.yaml"];
      spawnSync(
        compose[0] as string,
        [...compose.slice(1), "-p", project, ...files, "down", "--volumes", "--rmi", "local"],
        {
          cwd: root,
          env: { ...process.env, ...stack.stackEnv, CODEX_IMAGE: good },
          stdio: "ignore",
        },
      );
    });
    return { e, config, root, manifest, good };
  })();
  return setup;
}
test.after(cleanup);

/** docker-compose 1.29 (Debian) when present, else the v2 plugin: what the stage itself would pick. */
const compose =
  spawnSync("docker-compose", ["version"], { stdio: "ignore" }).status === 0
    ? ["docker-compose"]
    : [DOCKER_BIN, "compose"];

/** Points reports/build.json of the deploy root at `tag`, with an image tarball when given. */
function built(s: Setup, tag: string, tarball?: string): void {
  mkdirSync(join(s.root, "reports"), { recursive: true });
  const m = {
    ...s.manifest,
    deployTag: tag,
    platforms: [{ platform: nativePlatform(), ...(tarball ? { tarball } : {}) }],
    loaded: nativePlatform(),
  };
  writeFileSync(join(s.root, "reports/build.json"), JSON.stringify(m));
}

/** Runs the deploy stage in the deploy root with the stack's settings. */
async function run(
  s: Setup,
  options: Partial<StageOptions> = {},
): Promise<StageResult & { out: string }> {
  const ctx = context(s.e, s.config, s.root, { env: "development", ...options }, stack);
  const result = await deploy.run(ctx);
  return { ...result, out: ctx.lines.join("\n") };
}

/** Deploys `tag` (already in the daemon). */
function deployTag(s: Setup, tag: string): Promise<StageResult & { out: string }> {
  built(s, tag);
  return run(s);
}

/** The project's app container (undefined when there is none), and one of its fields. */
function app(format: string): string | undefined {
  const ids = dockerTry(
    "ps",
    "-aq",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--filter",
    "label=com.docker.compose.service=app",
  ).out.trim();
  return ids ? docker("inspect", "--format", format, ids) : undefined;
}

/** The project's named volumes. */
const volumes = () =>
  dockerTry("volume", "ls", "-q", "--filter", `label=com.docker.compose.project=${project}`)
    .out.split("\n")
    .filter(Boolean);

/** The deploy record of the project. */
const state = (s: Setup): DeployState =>
  JSON.parse(readFileSync(join(s.root, `reports/deploy/${project}.json`), "utf8"));

/** The stack up and healthy with the good image, and recorded so: deploys it unless it already is. */
async function deployed(): Promise<Setup> {
  const s = await ready();
  const serving =
    app("{{.Config.Image}} {{.State.Health.Status}}") === `${s.good} healthy` &&
    (() => {
      try {
        return state(s).image === s.good;
      } catch {
        return false;
      }
    })();
  if (!serving) {
    const r = await deployTag(s, s.manifest.deployTag);
    assert.is(r.status, "passed", `${r.detail}\n${r.out}`);
  }
  return s;
}

let broken: Promise<string> | undefined;
/** `<name>:broken`, the good image with a crash-looping entrypoint (never healthy), built once. */
function brokenImage(s: Setup): Promise<string> {
  broken ??= (async () => {
    const tag = `${s.config.image.name}:broken`;
    const dir = mkdtempSync(join(tmpdir(), `codex-e2e-broken-${id}-`));
    try {
      writeFileSync(
        join(dir, "Dockerfile"),
        `FROM ${s.good}\nENTRYPOINT ["node", "-e", "console.error('e2e: deliberately broken image'); process.exit(3)"]\n`,
      );
      const b = dockerTry("build", "-q", "-t", tag, dir);
      assert.is(b.status, 0, b.out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    return tag; // removed with every tag of the e2e image name at exit (sharedBuild)
  })();
  return broken;
}

/** Writes a marker into the sessions volume through the app container. */
function markSessions(marker: string): void {
  docker(
    "exec",
    app("{{.Name}}")?.replace(/^\//, "") ?? "",
    "sh",
    "-c",
    `mkdir -p "$CODEX_SESSIONS_ROOT/cdx-e2e" && echo ${marker} > "$CODEX_SESSIONS_ROOT/cdx-e2e/marker"`,
  );
}

/** The marker in the sessions volume, read through the app container. */
const sessionsMarker = (): string =>
  docker(
    "exec",
    app("{{.Name}}")?.replace(/^\//, "") ?? "",
    "sh",
    "-c",
    'cat "$CODEX_SESSIONS_ROOT/cdx-e2e/marker"',
  );

dockerTest(
  test,
  "deploy: the stack comes up healthy with the new tag, config images built on the daemon, Prometheus scrapes the app, the tag is recorded",
  async () => {
    const s = await ready();
    const result = await deployTag(s, s.manifest.deployTag);
    assert.is(result.status, "passed", `${result.detail}\n${result.out}`);
    assert.is(app("{{.Config.Image}}"), s.good);
    const env = app("{{json .Config.Env}}") ?? "";
    assert.match(env, '"CODEX_LOG_LEVEL=debug"');
    assert.match(env, '"CODEX_MAX_CONCURRENT=5"');
    assert.is(
      app("{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}"),
      `500000000 ${512 * 1024 * 1024}`,
    );
    // Remote-daemon-safe: no container of the stack bind-mounts anything; Prometheus runs the config image
    // compose built on the daemon (its scrape of the app, checked by the stage, needs that config).
    const ids = dockerTry("ps", "-q", "--filter", `label=com.docker.compose.project=${project}`)
      .out.split("\n")
      .filter(Boolean);
    assert.is(ids.length, 3);
    for (const c of ids)
      assert.not.match(docker("inspect", "--format", "{{json .Mounts}}", c), '"Type":"bind"', c);
    const prometheus = ids
      .map((c) => docker("inspect", "--format", "{{.Config.Image}}", c))
      .find((i) => /prometheus$/.test(i));
    assert.match(prometheus ?? "", new RegExp(`^${project}[-_]prometheus$`));
    assert.is(state(s).image, s.good);
    assert.is(state(s).history.at(-1)?.result, "deployed");
  },
);

dockerTest(
  test,
  "deploy: a daemon without the image loads the build's tarball and tags it as the deployed image",
  async () => {
    const s = await ready();
    // What the build leaves: a tarball of the image under the build's own tag, and no deploy tag in the daemon.
    const tag = `tarball-${id}`;
    const source = `codex-e2e-src-${id}:built`;
    docker("tag", s.good, source);
    mkdirSync(join(s.root, "reports/images"), { recursive: true });
    try {
      docker("save", "--output", join(s.root, "reports/images/app.tar"), source);
    } finally {
      dockerTry("rmi", source);
    }
    assert.is.not(dockerTry("image", "inspect", `${s.config.image.name}:${tag}`).status, 0);
    built(s, tag, "reports/images/app.tar");
    const result = await run(s);
    dockerTry("rmi", source); // the load brought the build's tag back
    assert.is(result.status, "passed", `${result.detail}\n${result.out}`);
    assert.match(result.out, `loading ${join(s.root, "reports/images/app.tar")}`);
    assert.is(app("{{.Config.Image}}"), `${s.config.image.name}:${tag}`);
    assert.is(state(s).image, `${s.config.image.name}:${tag}`);
  },
);

dockerTest(
  test,
  "deploy: a broken image rolls back to the running tag; the sessions volume keeps its data",
  async () => {
    const s = await deployed();
    const marker = `kept-${id}`;
    markSessions(marker);
    const bad = await brokenImage(s);
    const result = await deployTag(s, bad.split(":")[1] as string);
    assert.is(result.status, "failed");
    assert.match(result.detail ?? "", `rolled back to ${s.good}`);
    assert.match(
      result.out,
      "e2e: deliberately broken image",
      "the failing service's last log lines are printed",
    );
    assert.match(result.out, /service app healthcheck output:/);
    assert.is(app("{{.Config.Image}}"), s.good);
    assert.is(app("{{.State.Health.Status}}"), "healthy");
    assert.is(sessionsMarker(), marker);
    assert.is(state(s).image, s.good);
    assert.equal(state(s).history.at(-1), {
      ...state(s).history.at(-1),
      image: bad,
      result: "rolled-back",
    });
  },
);

dockerTest(
  test,
  "deploy: with the stack down, it rolls back to the tag in the state file; the sessions volume keeps its data",
  async () => {
    const s = await deployed();
    const marker = `kept-down-${id}`;
    markSessions(marker);
    const down = await run(s, { down: true });
    assert.is(down.status, "passed", down.detail);
    assert.is(app("{{.Name}}"), undefined, "the stack is down");
    const bad = await brokenImage(s);
    const result = await deployTag(s, bad.split(":")[1] as string);
    assert.match(result.out, `previously deployed: ${s.good}`);
    assert.is(result.status, "failed");
    assert.match(result.detail ?? "", `rolled back to ${s.good}`);
    assert.is(app("{{.Config.Image}}"), s.good);
    assert.is(app("{{.State.Health.Status}}"), "healthy");
    assert.is(sessionsMarker(), marker);
    assert.is(state(s).image, s.good);
  },
);

dockerTest(
  test,
  "deploy: a rollback that is itself unhealthy fails, says so and is recorded as rollback-failed",
  async () => {
    const s = await ready();
    const bad = await brokenImage(s);
    const worse = `${s.config.image.name}:broken-too`;
    docker("tag", bad, worse);
    // The record says the broken image served last; the stack is down, so that is the rollback target.
    await run(s, { down: true });
    mkdirSync(join(s.root, "reports/deploy"), { recursive: true });
    writeFileSync(
      join(s.root, `reports/deploy/${project}.json`),
      JSON.stringify({ project, environment: "development", image: bad, history: [] }),
    );
    const result = await deployTag(s, "broken-too");
    assert.is(result.status, "failed");
    assert.match(result.detail ?? "", `rollback to ${bad} is not healthy either`);
    assert.is(state(s).image, bad);
    assert.equal(state(s).history.at(-1), {
      ...state(s).history.at(-1),
      image: worse,
      result: "rollback-failed",
    });
  },
);

dockerTest(test, "deploy --down keeps named volumes; --down --volumes removes them", async () => {
  const s = await deployed();
  const before = volumes();
  assert.ok(before.length > 0, "the stack has named volumes");
  const down = await run(s, { down: true });
  assert.is(down.status, "passed");
  assert.is(
    dockerTry("ps", "-aq", "--filter", `label=com.docker.compose.project=${project}`).out.trim(),
    "",
  );
  assert.equal(volumes().sort(), before.sort());
  const wipe = await run(s, { down: true, volumes: true });
  assert.is(wipe.status, "passed");
  assert.equal(volumes(), []);
});

dockerTest(test, "deploy: an unknown environment is a clear error", async () => {
  // Needs no build: the name is checked before anything reaches the daemon.
  const ctx = context(await engine(), await e2eConfig(), tempRoot(), { env: "qa" }, stack);
  try {
    await deploy.run(ctx);
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.match(
      (err as Error).message,
      '--env: unknown environment "qa"; expected one of development, testing, staging, production',
    );
  }
});

test.run();
