import { test } from "uvu";
import * as assert from "uvu/assert";
import { composeArgs } from "../../../../../ci/stages/deploy/compose.js";
import { healthcheckOutput, type Inspect, judge } from "../../../../../ci/stages/deploy/health.js";
import { appTargetUp } from "../../../../../ci/stages/deploy/rollout.js";

const c = (name: string, state: Partial<Inspect["State"]>, service = name): Inspect => ({
  Id: name,
  Name: `/p-${name}-1`,
  Config: { Image: "img", Labels: { "com.docker.compose.service": service } },
  State: { Status: "running", Running: true, ExitCode: 0, ...state },
});

test("ready means healthy, or running when there is no healthcheck; unhealthy fails at once", () => {
  const h = judge([
    c("app", { Health: { Status: "healthy" } }),
    c("prometheus", { Health: { Status: "starting" } }),
    c("sidecar", {}),
    c("alertmanager", { Health: { Status: "unhealthy" } }),
  ]);
  assert.equal(
    h.map((x) => [x.service, x.status, x.ready, x.failed]),
    [
      ["app", "healthy", true, false],
      ["prometheus", "starting", false, false],
      ["sidecar", "running", true, false],
      ["alertmanager", "unhealthy", false, true],
    ],
  );
  assert.is(judge([c("x", { Running: false, Status: "restarting" })])[0]?.ready, false);
  const looping = {
    ...c("app", { Running: false, Status: "restarting", ExitCode: 3 }),
    RestartCount: 2,
  };
  assert.is(
    judge([looping])[0]?.failed,
    true,
    "a crash loop fails without waiting for the timeout",
  );
  assert.is(judge([{ ...looping, RestartCount: 1 }])[0]?.failed, false);
});

test("healthcheck output shows the last probes", () => {
  const i = c("app", {
    Health: {
      Status: "unhealthy",
      Log: [
        { ExitCode: 0, Output: "ok\n" },
        { ExitCode: 1, Output: "fs: /app/data not writable\n" },
      ],
    },
  });
  assert.is(healthcheckOutput(i, 1), "exit 1: fs: /app/data not writable");
  assert.is(healthcheckOutput(c("p", {})), "(no healthcheck output)");
});

test("the Prometheus target check wants app:<port> up", () => {
  const body = (health: string, url = "http://app:9090/metrics") =>
    JSON.stringify({ status: "success", data: { activeTargets: [{ scrapeUrl: url, health }] } });
  assert.ok(appTargetUp(body("up"), "9090"));
  assert.not.ok(appTargetUp(body("down"), "9090"));
  assert.not.ok(appTargetUp(body("up", "http://localhost:9090/metrics"), "9090"));
  assert.not.ok(appTargetUp("not json", "9090"));
});

test("compose argv carries project and files in order", () => {
  assert.equal(
    composeArgs({ bin: ["docker-compose"], project: "p", files: ["a.yaml", "b.yaml"] }, "up", "-d"),
    ["docker-compose", "-p", "p", "-f", "a.yaml", "-f", "b.yaml", "up", "-d"],
  );
});

test.run();
