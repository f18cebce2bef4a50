import { Histogram, Registry } from "prom-client";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { BulkHistogram } from "../../../scripts/lib/bulkhistogram.js";

const BUCKETS = [0.005, 0.01, 0.5, 1, 60];
/** On every bound, between, below the first and above the last. */
const VALUES = [0, 0.005, 0.0051, 0.01, 0.3, 0.5, 0.75, 1, 1.5, 60, 61, 1e6, 0.005];

test("formats exactly as prom-client's Histogram after the same observations", async () => {
  const theirs = new Registry();
  const h = new Histogram({ name: "x_seconds", help: "h", buckets: BUCKETS, registers: [theirs] });
  const ours = new Registry();
  const b = new BulkHistogram("x_seconds", "h", BUCKETS, ours);
  const empty = await ours.metrics();
  assert.is(empty, await theirs.metrics());
  for (const v of VALUES) {
    h.observe(v);
    b.observe(v);
  }
  const text = await ours.metrics();
  assert.is(text, await theirs.metrics());
  assert.match(text, /x_seconds_bucket\{le="0.005"\} 3\n/);
  assert.match(text, /x_seconds_bucket\{le="60"\} 11\n/);
  assert.match(text, /x_seconds_bucket\{le="\+Inf"\} 13\n/);
  const json = async (r: Registry) =>
    JSON.parse(JSON.stringify(await r.getMetricsAsJSON())) as unknown;
  assert.equal(await json(ours), await json(theirs));
  ours.resetMetrics();
  theirs.resetMetrics();
  h.zero({});
  assert.is(await ours.metrics(), await theirs.metrics());
});

test("collect runs before every export; buckets must increase", async () => {
  const r = new Registry();
  let calls = 0;
  const b = new BulkHistogram("y", "h", [1, 2], r, async () => {
    calls++;
    b.observe(1.5);
  });
  assert.match(await r.metrics(), /y_count 1\n/);
  assert.match(
    await r.metrics(),
    /y_bucket\{le="2"\} 2\ny_bucket\{le="\+Inf"\} 2\ny_sum 3\ny_count 2/,
  );
  assert.is(calls, 2);
  assert.throws(() => new BulkHistogram("z", "h", [1, 1], r), /z: buckets must increase/);
  assert.throws(() => new BulkHistogram("w", "h", [2, 1], r), /w: buckets must increase/);
});

test.run();
