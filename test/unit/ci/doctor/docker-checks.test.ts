import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  buildKitCheck,
  buildxCheck,
  clientCheck,
  composeCheck,
  daemonCheck,
  dockerClients,
} from "../../../../ci/doctor/docker-checks.js";
import { contextFor, fakeBin, pathDir } from "./fakes.js";

/** A docker client stand-in: its version, and whether `buildx` / `compose` exist as with the real CLI. */
const fakeDocker = (
  dir: string,
  version: string,
  plugins: { buildx?: boolean; compose?: string } = {},
) =>
  fakeBin(
    dir,
    "docker",
    `case "$1" in
  --version) echo "Docker version ${version}, build abc1234" ;;
  buildx) ${plugins.buildx ? 'echo "github.com/docker/buildx v0.20.0 1234"' : 'echo "docker: unknown command: docker buildx" >&2; exit 1'} ;;
  compose) ${plugins.compose ? `echo "${plugins.compose}"` : 'echo "docker: unknown command: docker compose" >&2; exit 1'} ;;
  *) exit 1 ;;
esac`,
  );

test("no docker at all: client, BuildKit, compose missing with their Debian packages", async () => {
  const ctx = await contextFor(pathDir());
  const clients = await dockerClients(ctx);
  assert.equal(clients, []);
  assert.equal(clientCheck(clients).apt, ["docker.io"]);
  assert.is(buildKitCheck(clients).status, "missing");
  assert.is(buildxCheck(clients).status, "warn");
  const compose = await composeCheck(ctx, clients);
  assert.is(compose.status, "missing");
  assert.equal(compose.apt, ["docker-compose"]);
  const daemon = await daemonCheck(ctx, clients);
  assert.is(daemon.status, "missing");
  assert.is(daemon.action, "dockerd");
  assert.equal(daemon.apt, ["docker.io"]);
});

test("a v28 client without buildx has no BuildKit; a 20.10 client behind it has it built in", async () => {
  const first = pathDir();
  const second = pathDir();
  fakeDocker(first, "28.2.2");
  const ctx = await contextFor(first);
  const only28 = await dockerClients(ctx);
  assert.is(buildKitCheck(only28).status, "missing");
  fakeDocker(second, "20.10.24+dfsg1");
  const both = await dockerClients({ ...ctx, env: { PATH: `${first}:${second}` } });
  assert.equal(
    both.map((c) => [c.path, c.version, c.buildx]),
    [
      [join(first, "docker"), "28.2.2", false],
      [join(second, "docker"), "20.10.24", false],
    ],
  );
  const bk = buildKitCheck(both);
  assert.is(bk.status, "ok");
  assert.match(bk.found, /20\.10\.24 \(built in\); first on PATH .*28\.2\.2\) has no buildx/);
  assert.match(bk.fix ?? "", join(second, "docker"));
});

test("buildx and compose v2 plugins are seen; compose v1 as docker-compose", async () => {
  const dir = pathDir();
  fakeDocker(dir, "28.2.2", { buildx: true, compose: "2.29.1" });
  const ctx = await contextFor(dir);
  const clients = await dockerClients(ctx);
  assert.match(buildKitCheck(clients).found, /\(buildx\)/);
  assert.is(buildxCheck(clients).status, "ok");
  assert.match((await composeCheck(ctx, clients)).found, /docker compose 2\.29\.1 \(v2/);
  const v1 = pathDir();
  fakeBin(v1, "docker-compose", '[ "$1" = version ] && echo 1.29.2');
  const only = await composeCheck(await contextFor(v1), []);
  assert.is(only.status, "ok");
  assert.match(only.found, /docker-compose 1\.29\.2 \(v1/);
});

test("a daemon whose socket is not ours: join the docker group, never start a second one", async () => {
  const dir = pathDir();
  fakeBin(
    dir,
    "docker",
    `[ "$1" = --version ] && echo "Docker version 20.10.24, build x" && exit 0
echo 'permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock' >&2; exit 1`,
  );
  const ctx = await contextFor(dir);
  const r = await daemonCheck(ctx, await dockerClients(ctx));
  assert.is(r.status, "missing");
  assert.match(r.found, /permission denied while trying to connect/);
  assert.match(r.fix ?? "", /usermod -aG docker/);
  assert.is(r.action, undefined);
});

test.run();
