/**
 * E2E on the Docker engine: `deploy` of the compose stack to healthy (Prometheus scraping the
 * app), a deliberately broken image that rolls back with the sessions volume intact, and
 * `deploy --down` keeping named volumes unless `--volumes`. Reuses the app image of the build suite.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { PipelineConfig } from "../../../ci/config.js";
import type { Engine } from "../../../ci/engine.js";
import { nativePlatform } from "../../../ci/lib/platform.js";
import type { BuildManifest } from "../../../ci/stages/build/manifest.js";
import { deploy } from "../../../ci/stages/deploy/index.js";
import { dockerTest } from "../../helpers/docker.js";
import {
  cleanup,
  context,
  docker,
  dockerTry,
  e2eConfig,
  engine,
  id,
  onCleanup,
  sharedBuild,
  tempRoot,
} from "./harness.js";

let e: Engine;
let config: PipelineConfig;
let root: string;
let good: string;
let manifest: BuildManifest;
const project = `codex-e2e-${id}`;
const saved: Record<string, string | undefined> = {};
let stackEnv: Record<string, string> = {};

/** A TCP port free on 127.0.0.1 right now. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

/** Points reports/build.json of the deploy root at `tag` (the image is already in the daemon). */
function built(tag: string): void {
  mkdirSync(join(root, "reports"), { recursive: true });
  const m = {
    ...manifest,
    deployTag: tag,
    platforms: [{ platform: nativePlatform() }],
    loaded: nativePlatform(),
  };
  writeFileSync(join(root, "reports/build.json"), JSON.stringify(m));
}

/** The project's app container, and one of its fields. */
function app(format: string): string {
  const id = docker(
    "ps",
    "-q",
    "--filter",
    `label=com.docker.compose.project=${project}`,
    "--filter",
    "label=com.docker.compose.service=app",
  );
  return docker("inspect", "--format", format, id);
}

/** The project's named volumes. */
const volumes = () =>
  dockerTry("volume", "ls", "-q", "--filter", `label=com.docker.compose.project=${project}`)
    .out.split("\n")
    .filter(Boolean);

test.before(async () => {
  e = await engine();
  config = await e2eConfig();
  config.deploy.timeoutSeconds = 240;
  ({ manifest } = await sharedBuild(e, { ...config, platforms: [nativePlatform()] }, tempRoot()));
  good = `${config.image.name}:${manifest.deployTag}`;
  root = tempRoot();
  // Free host ports (other stacks may hold the defaults) and quick healthchecks for the test.
  const ports = await Promise.all([0, 1, 2, 3].map(() => freePort()));
  stackEnv = {
    COMPOSE_PROJECT_NAME: project,
    CODEX_MCP_HOST_PORT: String(ports[0]),
    CODEX_METRICS_HOST_PORT: String(ports[1]),
    PROMETHEUS_HOST_PORT: String(ports[2]),
    ALERTMANAGER_HOST_PORT: String(ports[3]),
    CODEX_HEALTH_INTERVAL: "3s",
    MONITORING_HEALTH_INTERVAL: "3s",
  };
  for (const k of Object.keys(stackEnv)) saved[k] = process.env[k];
  Object.assign(process.env, stackEnv);
  onCleanup(() => {
    // Whatever happened (also on Ctrl-C, hence synchronous), take the stack and its volumes down.
    const files = ["-f", "docker/compose.yaml", "-f", "docker/environments/development.yaml"];
    spawnSync(
      "docker-compose",
      ["-p", project, ...files, "down", "--volumes", "--remove-orphans"],
      {
        cwd: root,
        env: { ...process.env, CODEX_IMAGE: good },
        stdio: "ignore",
      },
    );
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
});
test.after(cleanup);

dockerTest(
  test,
  "deploy: the stack comes up healthy with the new tag, Prometheus scrapes the app, the tag is recorded",
  async () => {
    built(manifest.deployTag);
    const ctx = context(e, config, root, { env: "development" }, { composeProject: project });
    const result = await deploy.run(ctx);
    assert.is(result.status, "passed", `${result.detail}\n${ctx.lines.join("\n")}`);
    assert.is(app("{{.Config.Image}}"), good);
    const env = app("{{json .Config.Env}}");
    assert.match(env, '"CODEX_LOG_LEVEL=debug"');
    assert.match(env, '"CODEX_MAX_CONCURRENT=5"');
    assert.is(
      app("{{.HostConfig.NanoCpus}} {{.HostConfig.Memory}}"),
      `500000000 ${512 * 1024 * 1024}`,
    );
    const state = JSON.parse(readFileSync(join(root, `reports/deploy/${project}.json`), "utf8"));
    assert.is(state.image, good);
    assert.is(state.history.at(-1).result, "deployed");
  },
);

dockerTest(
  test,
  "deploy: a broken image rolls back to the previous tag; the sessions volume keeps its data",
  async () => {
    const marker = `kept-${id}`;
    docker(
      "exec",
      app("{{.Name}}").replace(/^\//, ""),
      "sh",
      "-c",
      `mkdir -p "$CODEX_SESSIONS_ROOT/cdx-e2e" && echo ${marker} > "$CODEX_SESSIONS_ROOT/cdx-e2e/marker"`,
    );
    // A crash-looping entrypoint: never healthy.
    const dir = mkdtempSync(join(tmpdir(), `codex-e2e-broken-${id}-`));
    try {
      writeFileSync(
        join(dir, "Dockerfile"),
        `FROM ${good}\nENTRYPOINT ["node", "-e", "console.error('e2e: deliberately broken image'); process.exit(3)"]\n`,
      );
      const b = dockerTry("build", "-q", "-t", `${config.image.name}:broken`, dir);
      assert.is(b.status, 0, b.out);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    built("broken");
    const ctx = context(e, config, root, { env: "development" }, { composeProject: project });
    const result = await deploy.run(ctx);
    assert.is(result.status, "failed");
    assert.match(result.detail ?? "", `rolled back to ${good}`);
    const out = ctx.lines.join("\n");
    assert.match(
      out,
      "e2e: deliberately broken image",
      "the failing service's last log lines are printed",
    );
    assert.match(out, /service app healthcheck output:/);
    assert.is(app("{{.Config.Image}}"), good);
    assert.is(app("{{.State.Health.Status}}"), "healthy");
    const name = app("{{.Name}}").replace(/^\//, "");
    assert.is(
      docker("exec", name, "sh", "-c", 'cat "$CODEX_SESSIONS_ROOT/cdx-e2e/marker"'),
      marker,
    );
    const state = JSON.parse(readFileSync(join(root, `reports/deploy/${project}.json`), "utf8"));
    assert.is(state.image, good);
    assert.equal(state.history.at(-1), {
      ...state.history.at(-1),
      image: `${config.image.name}:broken`,
      result: "rolled-back",
    });
    dockerTry("rmi", `${config.image.name}:broken`);
  },
);

dockerTest(test, "deploy --down keeps named volumes; --down --volumes removes them", async () => {
  const before = volumes();
  assert.ok(before.length > 0, "the stack has named volumes");
  const down = await deploy.run(
    context(e, config, root, { env: "development", down: true }, { composeProject: project }),
  );
  assert.is(down.status, "passed");
  assert.is(
    dockerTry("ps", "-aq", "--filter", `label=com.docker.compose.project=${project}`).out.trim(),
    "",
  );
  assert.equal(volumes().sort(), before.sort());
  const wipe = await deploy.run(
    context(
      e,
      config,
      root,
      { env: "development", down: true, volumes: true },
      { composeProject: project },
    ),
  );
  assert.is(wipe.status, "passed");
  assert.equal(volumes(), []);
});

dockerTest(test, "deploy: an unknown environment is a clear error", async () => {
  try {
    await deploy.run(context(e, config, root, { env: "qa" }, { composeProject: project }));
    assert.unreachable("should have thrown");
  } catch (err) {
    assert.match(
      (err as Error).message,
      '--env: unknown environment "qa"; expected one of development, testing, staging, production',
    );
  }
});

test.run();
