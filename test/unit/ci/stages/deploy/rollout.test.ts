/**
 * `deploy()` of rollout.ts against a fake Docker daemon: a small model of compose's stack (an app whose
 * health follows its image, Prometheus and Alertmanager always healthy), answering the commands the rollout
 * sends through `DockerClient`. The real daemon runs the same paths in test/e2e/pipeline/deploy.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import type { DockerClient, ExecResult } from "../../../../../ci/engine.js";
import type { ComposeProject } from "../../../../../ci/stages/deploy/compose.js";
import type { Inspect } from "../../../../../ci/stages/deploy/health.js";
import {
  type DeployOptions,
  deploy,
  loadedImages,
} from "../../../../../ci/stages/deploy/rollout.js";
import { readState, stateFile } from "../../../../../ci/stages/deploy/state.js";

const test = suite("deploy rollout (fake daemon)");

const compose: ComposeProject = {
  bin: ["docker-compose"],
  project: "p",
  files: ["docker/compose.yaml", "docker/environments/development.yaml"],
};
const PREFIX = 1 + 2 + compose.files.length * 2;
const GOOD = "app:good";
const BROKEN = "app:broken";
const OLD = "app:old";

/** One command the rollout sent, with the variables it gave it. */
interface Call {
  args: string[];
  env: Record<string, string>;
}

/** A daemon with a compose project `p`: the app's health is `healthy(image)`; the others are always healthy. */
class FakeDaemon implements DockerClient {
  readonly calls: Call[] = [];
  readonly images: Set<string>;
  /** The image of the running app container; undefined while the stack is down. */
  app: string | undefined;
  private ups = 0;

  constructor(
    images: string[],
    private readonly opts: {
      healthy: (image: string) => boolean;
      running?: string;
      /** tarball path → the reference `docker load` reports. */
      tarballs?: Record<string, string>;
      buildFails?: boolean;
    },
  ) {
    this.images = new Set(images);
    this.app = opts.running;
  }

  /** The sub-commands of compose calls, e.g. ["build"], ["up", "-d", "--remove-orphans"]. */
  composeCalls(): Call[] {
    return this.calls
      .filter((c) => c.args[0] === "docker-compose")
      .map((c) => ({ ...c, args: c.args.slice(PREFIX) }));
  }

  /** What each `up` was asked to run. */
  upImages(): string[] {
    return this.composeCalls()
      .filter((c) => c.args[0] === "up")
      .map((c) => c.env.CODEX_IMAGE ?? "(unset)");
  }

  async load(tarball: string): Promise<ExecResult> {
    this.calls.push({ args: ["docker", "load", "-i", tarball], env: {} });
    const ref = this.opts.tarballs?.[tarball];
    if (!ref) return { exitCode: 1, stdout: "", stderr: `open ${tarball}: no such file` };
    this.images.add(ref);
    const line = ref.startsWith("sha256:") ? `Loaded image ID: ${ref}` : `Loaded image: ${ref}`;
    return { exitCode: 0, stdout: `${line}\n`, stderr: "" };
  }

  async exec(
    args: string[],
    opts: { env?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    this.calls.push({ args, env: opts.env ?? {} });
    const ok = (stdout = ""): ExecResult => ({ exitCode: 0, stdout, stderr: "" });
    const fail = (stderr: string): ExecResult => ({ exitCode: 1, stdout: "", stderr });
    if (args[0] === "docker-compose") {
      assert.equal(args.slice(0, PREFIX), [
        "docker-compose",
        "-p",
        "p",
        ...compose.files.flatMap((f) => ["-f", f]),
      ]);
      const [sub, ...rest] = args.slice(PREFIX);
      if (sub === "build") return this.opts.buildFails ? fail("COPY failed: no such file") : ok();
      if (sub === "up") {
        const image = opts.env?.CODEX_IMAGE ?? "";
        if (!this.images.has(image)) return fail(`pull access denied for ${image}`);
        this.app = image;
        this.ups += 1;
        return ok();
      }
      if (sub === "down") {
        this.app = undefined;
        return ok();
      }
      if (sub === "ps") {
        if (!this.app) return ok();
        const service = rest.find((a) => !a.startsWith("-"));
        const ids = ["app", "prometheus", "alertmanager"]
          .filter((s) => !service || s === service)
          .map((s) => this.id(s));
        return ok(`${ids.join("\n")}\n`);
      }
      return fail(`fake: compose ${sub}?`);
    }
    const [, cmd, ...rest] = args;
    if (cmd === "image" && rest[0] === "inspect")
      return this.images.has(rest[1] ?? "") ? ok("[{}]") : fail("No such image");
    if (cmd === "tag") {
      if (!this.images.has(rest[0] ?? "")) return fail(`No such image: ${rest[0]}`);
      this.images.add(rest[1] ?? "");
      return ok();
    }
    if (cmd === "inspect") return ok(JSON.stringify(rest.map((id) => this.inspect(id))));
    if (cmd === "logs") return ok(`log line of ${rest.at(-1)}\n`);
    if (cmd === "exec") {
      const url = rest.at(-1) ?? "";
      const healthy = this.app !== undefined && this.opts.healthy(this.app);
      if (url.includes("/api/v1/targets"))
        return ok(
          JSON.stringify({
            data: {
              activeTargets: [
                { scrapeUrl: "http://app:9090/metrics", health: healthy ? "up" : "down" },
              ],
            },
          }),
        );
      return healthy ? ok('{"status":"ok"}') : fail("fetch failed");
    }
    return fail(`fake: docker ${cmd}?`);
  }

  /** Container ids change with every `up`, as compose recreates the app. */
  private id(service: string): string {
    return service === "app" ? `app-${this.ups}` : `${service}-1`;
  }

  private inspect(id: string): Inspect {
    const service = id.replace(/-\d+$/, "");
    const app = service === "app";
    const healthy = !app || (this.app !== undefined && this.opts.healthy(this.app));
    return {
      Id: id,
      Name: `/p_${service}_1`,
      RestartCount: 0,
      Config: {
        Image: app ? (this.app ?? "") : `p_${service}`,
        Labels: { "com.docker.compose.service": service },
      },
      State: {
        Status: "running",
        Running: true,
        ExitCode: 0,
        Health: {
          Status: healthy ? "healthy" : "unhealthy",
          Log: [{ ExitCode: healthy ? 0 : 1, Output: healthy ? "ok" : "exporter not ready" }],
        },
      },
    };
  }
}

/** A temp dir with the state file path; `previous` pre-records a deploy of that image. */
function workspace(previous?: string): { dir: string; file: string } {
  const dir = mkdtempSync(join(tmpdir(), "deploy-rollout-"));
  const file = stateFile(dir, "p");
  if (previous) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(
      file,
      JSON.stringify({
        project: "p",
        environment: "development",
        image: previous,
        history: [{ image: previous, at: "t0", result: "deployed" }],
      }),
    );
  }
  return { dir, file };
}

const STACK_ENV = { CODEX_BIND_ADDRESS: "0.0.0.0", PROMETHEUS_HOST_PORT: "" };

/** Runs deploy() of `image` on the fake, collecting log lines. */
async function run(
  docker: FakeDaemon,
  file: string,
  image: string,
  extra: Partial<DeployOptions> = {},
): Promise<{ outcome: Awaited<ReturnType<typeof deploy>>; lines: string[] }> {
  const lines: string[] = [];
  const outcome = await deploy({
    docker,
    compose,
    image,
    environment: "development",
    timeoutMs: 300,
    healthUrl: "http://127.0.0.1:9090/health",
    stateFile: file,
    env: STACK_ENV,
    log: (l) => lines.push(l),
    pollMs: 1,
    ...extra,
  });
  return { outcome, lines };
}

const healthyUnless =
  (...bad: string[]) =>
  (image: string) =>
    !bad.includes(image);

test("loadedImages reads both forms of `docker load` output", () => {
  assert.equal(
    loadedImages("Loaded image: codex-ci-build:r1-linux-amd64-1\nLoaded image ID: sha256:abc\n"),
    ["codex-ci-build:r1-linux-amd64-1", "sha256:abc"],
  );
  assert.equal(loadedImages("nothing\n"), []);
});

test("a daemon without the image gets the build's tarball, tagged as the image; config images are built before `up`; every compose command gets the stack's variables", async () => {
  const { dir, file } = workspace();
  try {
    const docker = new FakeDaemon([], {
      healthy: () => true,
      tarballs: { "/r/app.tar": "codex-ci-build:r1-linux-amd64-1" },
    });
    const { outcome } = await run(docker, file, GOOD, { tarball: "/r/app.tar" });
    assert.is(outcome.status, "deployed", outcome.detail);
    const order = docker.calls.map((c) =>
      c.args[0] === "docker-compose" ? `compose ${c.args[PREFIX]}` : c.args.slice(1, 3).join(" "),
    );
    const at = (what: string) => order.indexOf(what);
    assert.ok(at("load -i") >= 0, order.join(", "));
    assert.ok(at("load -i") < at("tag codex-ci-build:r1-linux-amd64-1"), order.join(", "));
    assert.ok(at("compose build") >= 0 && at("compose build") < at("compose up"), order.join(", "));
    assert.equal(docker.upImages(), [GOOD]);
    for (const c of docker.composeCalls())
      assert.equal(c.env, { ...c.env, ...STACK_ENV }, `compose ${c.args[0]} without the stack env`);
    const state = await readState(file);
    assert.is(state?.image, GOOD);
    assert.is(state?.history.at(-1)?.result, "deployed");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a tarball that does not hold the image is a clear error before compose runs", async () => {
  const { dir, file } = workspace();
  try {
    const docker = new FakeDaemon([], { healthy: () => true, tarballs: {} });
    try {
      await run(docker, file, GOOD, { tarball: "/r/missing.tar" });
      assert.unreachable("should have thrown");
    } catch (e) {
      assert.match((e as Error).message, "docker load of /r/missing.tar exited 1");
    }
    assert.equal(docker.composeCalls(), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a broken image rolls back to the image the running app had", async () => {
  const { dir, file } = workspace();
  try {
    const docker = new FakeDaemon([GOOD, BROKEN], {
      healthy: healthyUnless(BROKEN),
      running: GOOD,
    });
    const { outcome, lines } = await run(docker, file, BROKEN);
    assert.is(outcome.status, "rolled-back");
    assert.is(outcome.serving, GOOD);
    assert.match(outcome.detail, `health gate failed: app unhealthy; rolled back to ${GOOD}`);
    assert.equal(docker.upImages(), [BROKEN, GOOD]);
    assert.ok(lines.includes("  | exit 1: exporter not ready"), lines.join("\n"));
    const state = await readState(file);
    assert.is(state?.image, GOOD);
    assert.equal(state?.history.at(-1), {
      image: BROKEN,
      at: state?.history.at(-1)?.at,
      result: "rolled-back",
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("with the stack down, the previous tag comes from the state file", async () => {
  const { dir, file } = workspace(GOOD);
  try {
    const docker = new FakeDaemon([GOOD, BROKEN], { healthy: healthyUnless(BROKEN) });
    const { outcome, lines } = await run(docker, file, BROKEN);
    assert.ok(lines.includes(`previously deployed: ${GOOD}`), lines.join("\n"));
    assert.is(outcome.status, "rolled-back", outcome.detail);
    assert.is(outcome.serving, GOOD);
    assert.equal(docker.upImages(), [BROKEN, GOOD]);
    assert.is(docker.app, GOOD);
    assert.is((await readState(file))?.image, GOOD);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a rollback that is itself unhealthy fails, says so, claims nothing serves, and is recorded as rollback-failed", async () => {
  const { dir, file } = workspace(OLD);
  try {
    const docker = new FakeDaemon([OLD, BROKEN], { healthy: healthyUnless(OLD, BROKEN) });
    const { outcome, lines } = await run(docker, file, BROKEN);
    assert.is(outcome.status, "failed");
    assert.is(outcome.serving, undefined);
    assert.match(outcome.detail, `rollback to ${OLD} is not healthy either`);
    assert.equal(docker.upImages(), [BROKEN, OLD]);
    // The failing services are reported for the rollback too: twice in all.
    assert.is(lines.filter((l) => l.startsWith("service app (p_app_1) is unhealthy")).length, 2);
    const state = await readState(file);
    assert.is(state?.image, OLD, "the record still names the image to go back to");
    assert.is(state?.history.at(-1)?.result, "rollback-failed");
    assert.is(state?.history.at(-1)?.image, BROKEN);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("with nothing to roll back to, it fails and leaves the stack for inspection (one `up`)", async () => {
  const { dir, file } = workspace();
  try {
    const docker = new FakeDaemon([BROKEN], { healthy: () => false });
    const { outcome } = await run(docker, file, BROKEN);
    assert.is(outcome.status, "failed");
    assert.match(outcome.detail, "no previous deployment to roll back to");
    assert.equal(docker.upImages(), [BROKEN]);
    assert.is((await readState(file))?.history.at(-1)?.result, "failed");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("config images that fail to build leave the stack as it was: no `up`", async () => {
  const { dir, file } = workspace();
  try {
    const docker = new FakeDaemon([GOOD, BROKEN], {
      healthy: () => true,
      running: GOOD,
      buildFails: true,
    });
    const { outcome } = await run(docker, file, BROKEN);
    assert.is(outcome.status, "failed");
    assert.match(outcome.detail, "compose build failed (exit 1): COPY failed: no such file");
    assert.is(outcome.serving, GOOD);
    assert.equal(docker.upImages(), []);
    assert.is(docker.app, GOOD);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
