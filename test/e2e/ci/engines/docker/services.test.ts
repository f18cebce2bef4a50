/**
 * A Docker daemon as a service on the Docker engine, for real: started as the e2e cells start theirs
 * (--privileged, or the nested-daemon flags where the host refuses that), it runs a container as a non-root
 * user and `docker exec`s into it, which is what every healthcheck of the app (user codex) does. Without
 * CAP_SYS_PTRACE the nested runc cannot join such a container's namespaces ("error executing setns process").
 */
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { DockerCli, RUN_LABEL } from "../../../../../ci/engines/docker/cli.js";
import { Containers } from "../../../../../ci/engines/docker/container.js";
import { NESTED_DAEMON_FLAGS, startService } from "../../../../../ci/engines/docker/services.js";
import { chooseDockerBin } from "../../../../../ci/lib/docker-bin.js";
import { dockerTest } from "../../../../helpers/docker.js";

const runId = `it-svc-${randomBytes(3).toString("hex")}`;
const volume = `codex-it-svc-${runId}`;
const NODE = "node:26-bookworm-slim";

test("the nested-daemon flags grant what exec into a non-root container needs", () => {
  const caps = NESTED_DAEMON_FLAGS.flatMap((f, i) =>
    NESTED_DAEMON_FLAGS[i - 1] === "--cap-add" ? [f] : [],
  );
  assert.equal(caps.sort(), ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE"]);
});

dockerTest(
  test,
  "a dind service runs a non-root container and docker exec reaches it (healthchecks work inside)",
  async () => {
    const docker = new DockerCli(await chooseDockerBin(process.env));
    const containers = new Containers(docker, runId);
    const lines: string[] = [];
    const network = await containers.network("svc");
    try {
      const svc = await startService(
        docker,
        containers,
        {
          hostname: "docker",
          image: process.env.CODEX_IT_DIND_IMAGE ?? "docker:28-dind",
          useEntrypoint: true,
          privileged: true,
          env: { DOCKER_TLS_CERTDIR: "" },
          caches: { "/var/lib/docker": volume },
          ready: ["docker", "info"],
          preload: [NODE],
        },
        network,
        (l) => lines.push(l),
      );
      try {
        const inner = (...args: string[]) => docker.try(["exec", svc.container, "docker", ...args]);
        assert.match(lines.join("\n"), /^service docker: .*(, --privileged$|SYS_PTRACE)/m);
        const run = await inner(
          "run",
          "-d",
          "--name",
          "nonroot",
          "--user",
          "1000",
          NODE,
          "sleep",
          "300",
        );
        assert.is(run.exitCode, 0, run.stderr);
        const exec = await inner("exec", "nonroot", "id", "-u");
        assert.is(exec.exitCode, 0, `${exec.stderr}\n${lines.join("\n")}`);
        assert.is(exec.stdout.trim(), "1000");
      } finally {
        await svc.stop();
      }
    } finally {
      await docker.try(["network", "rm", network]);
      await docker.try(["volume", "rm", volume]);
    }
    const left = await docker.must(["ps", "-aq", "--filter", `label=${RUN_LABEL}=${runId}`]);
    assert.is(left, "", "no container of the test is left");
  },
);

test.run();
