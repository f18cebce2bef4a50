/**
 * A Docker daemon as a service on the Docker engine, for real: started as the e2e cells start theirs
 * (--privileged, or the nested-daemon flags where the host refuses that), it runs a container as a non-root
 * user and `docker exec`s into it, which is what every healthcheck of the app (user codex) does. Without
 * CAP_SYS_PTRACE the nested runc cannot join such a container's namespaces ("error executing setns process").
 */
import { randomBytes } from "node:crypto";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { removeRun } from "../../../../../ci/engines/docker/cleanup.js";
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

dockerTest(
  test,
  "a cache volume another run's daemon holds is not shared: this run's daemon gets a fresh volume of its own",
  async () => {
    const docker = new DockerCli(await chooseDockerBin(process.env));
    const shared = `codex-it-svc-shared-${randomBytes(3).toString("hex")}`;
    const runs = [`${runId}-a`, `${runId}-b`];
    const lines: string[] = [];
    const dind = {
      hostname: "docker",
      image: process.env.CODEX_IT_DIND_IMAGE ?? "docker:28-dind",
      useEntrypoint: true,
      privileged: true,
      env: { DOCKER_TLS_CERTDIR: "" },
      caches: { "/var/lib/docker": shared },
      ready: ["docker", "info"],
    };
    try {
      // Two runs at once on one daemon, as two `npm run ci` would be: before, the second daemon waited on
      // containerd's lock in the shared volume and died ("timeout waiting for containerd to start").
      const started = [];
      for (const run of runs) {
        const containers = new Containers(docker, run);
        started.push(
          await startService(docker, containers, dind, await containers.network("svc"), (l) =>
            lines.push(`${run}: ${l}`),
          ),
        );
      }
      const mounts = await Promise.all(
        started.map((s) =>
          docker.must([
            "inspect",
            "--format",
            '{{range .Mounts}}{{if eq .Destination "/var/lib/docker"}}{{.Name}}{{end}}{{end}}',
            s.container,
          ]),
        ),
      );
      assert.is(mounts[0], shared, "the first run's daemon has the cache volume");
      assert.is.not(mounts[1], shared, "the second run's daemon has a volume of its own");
      assert.match(
        lines.join("\n"),
        new RegExp(`${runs[1]}: service docker: cache volume ${shared} is in use by another run`),
      );
      for (const s of started) {
        const info = await docker.try([
          "exec",
          s.container,
          "docker",
          "info",
          "--format",
          "{{.ID}}",
        ]);
        assert.is(info.exitCode, 0, `both daemons answer: ${info.stderr}`);
      }
    } finally {
      for (const run of runs) await removeRun(docker, run, []);
      await docker.try(["volume", "rm", shared]);
    }
    for (const run of runs) {
      const left = await docker.must([
        "volume",
        "ls",
        "-q",
        "--filter",
        `label=${RUN_LABEL}=${run}`,
      ]);
      assert.is(left, "", "the fresh volume goes with its run");
    }
  },
);

test.run();
