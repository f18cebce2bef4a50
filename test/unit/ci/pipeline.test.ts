/** The stage graph at run time: what a dependency's outcome lets through. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig } from "../../../ci/config.js";
import { Display } from "../../../ci/display/index.js";
import type { Engine } from "../../../ci/engine.js";
import { setWriter } from "../../../ci/lib/log.js";
import { runStages } from "../../../ci/pipeline.js";
import { selectStages } from "../../../ci/plan.js";
import type { StageOptions } from "../../../ci/stage.js";

/** An engine that fails every call, naming it: a stage that reaches it shows in its own result. */
const refusing = new Proxy(
  {
    name: "docker",
    capabilities: { multiPlatformExport: false },
    span: (_name: string, fn: () => Promise<unknown>) => fn(),
  } as Engine,
  {
    get: (target, prop) =>
      prop in target
        ? target[prop as keyof Engine]
        : () => {
            throw new Error(`engine.${String(prop)} was called`);
          },
  },
);

async function run(
  named: Parameters<typeof selectStages>[0],
  skip: Parameters<typeof selectStages>[1],
  opts: Partial<StageOptions>,
  configure = (_: Awaited<ReturnType<typeof loadConfig>>) => {},
) {
  const config = await loadConfig();
  configure(config);
  const options: StageOptions = {
    only: [],
    failFast: false,
    push: false,
    down: false,
    volumes: false,
    ...opts,
  };
  const abort = new AbortController();
  setWriter(() => {});
  try {
    return await runStages(
      selectStages(named, skip, options),
      {
        config,
        options,
        settings: { ci: {}, registry: {}, stackSecrets: {} },
        root: process.cwd(),
        runId: "unit",
        signal: abort.signal,
      },
      () => refusing,
      abort,
      new Display({ mode: "plain", out: { write: () => {} } }),
    );
  } finally {
    setWriter((t) => process.stdout.write(t));
  }
}

test("a needed stage that ran nothing (no matrix cell) holds back the stages after it", async () => {
  const reports = await run(["deploy"], ["build", "scan"], { only: ["e2e"] }, (c) => {
    c.node = ["22"];
  });
  const test_ = reports.find((r) => r.stage === "test");
  const deploy = reports.find((r) => r.stage === "deploy");
  assert.is(test_?.status, "skipped");
  assert.match(test_?.detail ?? "", "no matrix cells");
  assert.is(deploy?.status, "skipped");
  assert.is(deploy?.detail, "needs test");
});

test("a stage skipped on purpose by the config (scan.enabled: false) does not hold back deploy", async () => {
  const reports = await run(["deploy"], ["build", "test"], {}, (c) => {
    c.scan.enabled = false;
  });
  assert.is(reports.find((r) => r.stage === "scan")?.status, "skipped");
  const deploy = reports.find((r) => r.stage === "deploy");
  // It ran: it reached the engine (which refuses everything here).
  assert.is(deploy?.status, "failed");
  assert.match(deploy?.detail ?? "", "engine.dockerClient was called");
});

test.run();
