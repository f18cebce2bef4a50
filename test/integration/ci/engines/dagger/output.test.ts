/**
 * Each step's output printed once on the Dagger engine: under `dagger run` (a session port is set) Dagger's own
 * progress shows every exec's output live, so the engine keeps it for the row's log file only (`quietLog`);
 * with an engine the SDK started itself, nothing else shows it, so it is logged. The real SDK against the
 * recording server.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { EngineSettings } from "../../../../../ci/engine.js";
import { openDagger } from "../../../../../ci/engines/dagger/index.js";
import { startRecorder } from "../../../../helpers/dagger-recorder.js";

/** Runs one step whose stdout is "hello from the step"; returns what went to `log`, `quietLog` and `step`. */
async function runStep(session: boolean) {
  const rec = await startRecorder((field) =>
    field === "stdout" ? "hello from the step\n" : undefined,
  );
  const saved = { ...process.env };
  Object.assign(process.env, rec.env);
  const settings: EngineSettings = {
    dockerBin: "docker",
    // Without `dagger run` the SDK starts its own session with a CLI; here it still reaches the recorder.
    dagger: session
      ? { sessionPort: rec.env.DAGGER_SESSION_PORT, sessionToken: rec.env.DAGGER_SESSION_TOKEN }
      : {},
  };
  const log: string[] = [];
  const quiet: string[] = [];
  const steps: string[] = [];
  const engine = await openDagger({
    cache: true,
    runId: "out",
    settings,
    ...(session ? {} : { cliBin: "/bin/false" }),
  }).catch(async (e) => {
    process.env = saved;
    await rec.close();
    throw e;
  });
  try {
    await engine.run({
      name: "cell",
      image: "node:26-bookworm-slim",
      steps: [{ name: "say", args: ["echo", "hello"] }],
      log: (l) => log.push(l),
      quietLog: (l) => quiet.push(l),
      step: (s) => steps.push(s),
    });
  } finally {
    await engine.close();
    process.env = saved;
    await rec.close();
  }
  return { log, quiet, steps };
}

test("under `dagger run` a step's output goes to the row's log file only, not the console", async () => {
  const { log, quiet, steps } = await runStep(true);
  assert.equal(steps, ["say"]);
  assert.equal(log, ["$ echo hello"]);
  assert.equal(quiet, ["hello from the step"]);
});

test("with an SDK-started engine nothing else shows it: the output is logged, once", async () => {
  const { log, quiet } = await runStep(false);
  assert.equal(log, ["$ echo hello", "hello from the step"]);
  assert.equal(quiet, []);
});

test.run();
