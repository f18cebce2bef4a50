/** `Engine.span` outside Dagger: the Docker engine and the `--jobs` wrapper pass the function straight through. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Engine } from "../../../../ci/engine.js";
import { openDocker } from "../../../../ci/engines/docker/index.js";
import { jobSlots } from "../../../../ci/engines/jobs.js";

test("docker engine: span gives fn's value and its error unchanged, and never judges the value", async () => {
  // `true` as the docker client: opening and closing the engine touch no daemon.
  const engine = await openDocker(`unit-span-${process.pid}`, {
    cache: false,
    settings: { dockerBin: "true", dagger: {} },
  });
  try {
    let judged = false;
    const value = { status: "failed" };
    const got = await engine.span(
      "test",
      async () => value,
      () => {
        judged = true;
        return "failed";
      },
    );
    assert.is(got, value);
    assert.is(judged, false, "the docker engine has no span to mark");
    const boom = new Error("boom");
    const thrown = await engine.span("lint", () => Promise.reject(boom)).catch((e) => e);
    assert.is(thrown, boom);
  } finally {
    await engine.close();
  }
});

test("--jobs wrapper: span goes to the engine with its name, function and failure, and takes no slot", async () => {
  const calls: { name: string; failure: unknown }[] = [];
  let release!: () => void;
  const holding = new Promise<void>((r) => {
    release = r;
  });
  const inner = {
    name: "dagger",
    capabilities: { multiPlatformExport: true, loadsImages: true },
    run: async () => {
      await holding;
      return { steps: [] };
    },
    span: (name: string, fn: () => Promise<unknown>, failure?: unknown) => {
      calls.push({ name, failure });
      return fn();
    },
  } as unknown as Engine;
  const engine = jobSlots(inner, 1).at(5);
  // The one slot is taken by a run that waits; a span must still go through.
  const running = engine.run({ name: "r", image: "i", steps: [] });
  const failure = () => "x";
  const got = await engine.span("node22/unit", async () => 42, failure);
  assert.is(got, 42);
  assert.equal(calls, [{ name: "node22/unit", failure }]);
  release();
  await running;
});

test.run();
