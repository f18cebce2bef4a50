/**
 * The doctor's checks against the real Docker client and daemon (moved from test/unit/ci/doctor/docker-checks
 * and network.test.ts, whose other tests use stand-ins): here they run where the pipeline has a daemon, the
 * e2e cells with DOCKER_HOST=tcp://docker:2375 and REQUIRE_DOCKER=1, instead of skipping in the unit cells.
 */
import { spawnSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { daemonCheck, dockerClients } from "../../../../ci/doctor/docker-checks.js";
import { offlineImagesCheck } from "../../../../ci/doctor/network.js";
import { dockerTest } from "../../../helpers/docker.js";
import { contextFor, pathDir } from "../../../unit/ci/doctor/fakes.js";

dockerTest(
  test,
  "a daemon that does not answer is missing, with dockerd as the fix, and the check is bounded",
  async () => {
    const ctx = await contextFor(pathDir(), {
      env: { ...process.env, DOCKER_HOST: "unix:///nonexistent/docker.sock" },
    });
    const t0 = Date.now();
    const r = await daemonCheck(ctx, await dockerClients(ctx));
    assert.is(r.status, "missing");
    assert.match(r.found, /no answer at unix:\/\/\/nonexistent\/docker\.sock/);
    assert.is(r.action, "dockerd");
    assert.ok(Date.now() - t0 < 15_000);
  },
);

dockerTest(test, "the real daemon answers and the check names its version", async () => {
  const ctx = await contextFor("", { env: process.env });
  const r = await daemonCheck(ctx, await dockerClients(ctx));
  const server = spawnSync("docker", ["version", "--format", "{{.Server.Version}}"], {
    encoding: "utf8",
  });
  assert.is(r.status, "ok");
  assert.ok(r.found.startsWith(server.stdout.trim()), r.found);
});

dockerTest(
  test,
  "base images: present ones pass, missing ones are named, with the offline build as the fix",
  async () => {
    const tag = `codex-doctor-test/present:${process.pid}`;
    // An empty image made locally: no registry needed.
    const made = spawnSync("docker", ["import", "-", tag], { input: Buffer.alloc(1024) });
    assert.is(made.status, 0, made.stderr?.toString());
    const aliases = [`${tag}-amd64`, `${tag}-arm64`];
    try {
      const ctx = await contextFor("", { env: process.env });
      const absent = "codex-doctor-test/absent:1";
      ctx.config = {
        ...ctx.config,
        node: [String(process.pid)],
        platforms: ["linux/amd64", "linux/arm64"],
        image: { ...ctx.config.image, nodeVersion: String(process.pid) },
        images: {
          ...ctx.config.images,
          node: "codex-doctor-test/present:{version}",
          prometheus: tag,
          alertmanager: absent,
          // Not the configured docker:<v>-dind: a daemon other than the host's (an e2e cell's) lacks it.
          dind: tag,
        },
      };
      const missing = await offlineImagesCheck(ctx, false, true);
      assert.is(missing.status, "missing");
      assert.is(missing.found, `no registry and missing: ${absent}, ${aliases.join(", ")}`);
      assert.is(missing.action, "offline-images");
      ctx.config.images.alertmanager = tag;
      for (const alias of aliases) spawnSync("docker", ["tag", tag, alias]);
      assert.is((await offlineImagesCheck(ctx, false, true)).status, "ok");
      assert.is(
        (await offlineImagesCheck(ctx, true, true)).found,
        "pulled from the registry on demand",
      );
    } finally {
      spawnSync("docker", ["rmi", "-f", tag, ...aliases]);
    }
  },
);

test.run();
