/**
 * `--jobs`: the slot wrapper around an engine. The inner engine here records calls instead of running
 * containers; the real Docker engine under `--jobs 1` is in test/integration/ci/engines/docker/pipeline.test.ts.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import type { Engine, RunSpec } from "../../../../ci/engine.js";
import { jobSlots, withJobs } from "../../../../ci/engines/jobs.js";

/** An engine whose runs and builds take `ms` and count how many are in flight. */
function countingEngine(ms: number) {
  const seen = { now: 0, max: 0, started: [] as string[] };
  const busy = async <T>(name: string, value: T): Promise<T> => {
    seen.started.push(name);
    seen.max = Math.max(seen.max, ++seen.now);
    await new Promise((r) => setTimeout(r, ms));
    seen.now--;
    return value;
  };
  const engine = {
    name: "docker",
    run: (spec: RunSpec) => busy(spec.name, { steps: [] }),
    build: (spec: { platform: string }) => busy(spec.platform, { ref: spec.platform }),
    exportImage: async () => {},
    publishImage: async () => "",
    loadImage: async () => {},
    startService: async () => ({ hostname: "svc" }),
    close: async () => {},
  } as unknown as Engine;
  return { engine, seen };
}

const spec = (name: string, over: Partial<RunSpec> = {}): RunSpec => ({
  name,
  image: "node:24-bookworm-slim",
  steps: [],
  ...over,
});

test("runs and builds share the slots: never more than --jobs at once, all of them done", async () => {
  for (const jobs of [1, 2, 3]) {
    const { engine, seen } = countingEngine(20);
    const limited = withJobs(engine, jobs);
    await Promise.all([
      ...["a", "b", "c", "d", "e"].map((n) => limited.run(spec(n))),
      limited.build({ platform: "linux/arm64" }),
    ]);
    assert.is(seen.max, jobs, `--jobs ${jobs}`);
    assert.is(seen.started.length, 6);
  }
});

test("a queued run says so, and its start is reported when it gets a slot", async () => {
  const { engine } = countingEngine(30);
  const limited = withJobs(engine, 1);
  const lines: string[] = [];
  let startedAt = 0;
  const t0 = Date.now();
  const first = limited.run(spec("first"));
  const second = limited.run(
    spec("second", { log: (l) => lines.push(l), started: () => (startedAt = Date.now()) }),
  );
  assert.equal(lines, ["queued: all 1 job slots are busy (--jobs)"]);
  assert.is(startedAt, 0, "not started while the slot is taken");
  await Promise.all([first, second]);
  assert.ok(startedAt - t0 >= 25, "started after the first run ended");
});

test("a run cancelled while queued never reaches the engine", async () => {
  const { engine, seen } = countingEngine(30);
  const limited = withJobs(engine, 1);
  const abort = new AbortController();
  const first = limited.run(spec("first"));
  const second = limited.run(spec("second", { signal: abort.signal }));
  abort.abort();
  await first;
  const error = await second.then(
    () => undefined,
    (e: Error) => e,
  );
  assert.match(error?.message ?? "resolved", /second: step "queued" was cancelled/);
  assert.equal(seen.started, ["first"]);
});

test("slots go to the higher priority first, whatever the order runs were asked in (lint before test cells)", async () => {
  const { engine, seen } = countingEngine(20);
  const slots = jobSlots(engine, 1);
  const test_ = slots.at(1);
  const lint = slots.at(2);
  // The first run takes the only slot at once; of the queued ones, lint's go first although asked last.
  await Promise.all([
    test_.run(spec("cell-1")),
    test_.run(spec("cell-2")),
    test_.run(spec("cell-3")),
    lint.run(spec("lint-node")),
    lint.run(spec("lint-prometheus")),
  ]);
  assert.equal(seen.started, ["cell-1", "lint-node", "lint-prometheus", "cell-2", "cell-3"]);
});

test.run();
