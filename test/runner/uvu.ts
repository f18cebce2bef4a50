/**
 * uvu as the test files see it under test/run.ts: the real `suite` and `test`, with every test, hook and skip
 * written as one JSON line to $TEST_RECORD. uvu itself keeps no per-test times, drops the names of skipped
 * tests, and swallows an error thrown in a `before` hook (its runner returns from a `finally`); the records
 * give the runner all three.
 */
import { appendFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import {
  type Callback,
  type Context,
  exec,
  type Test,
  suite as uvuSuite,
  test as uvuTest,
} from "uvu";

export type TestRecord =
  | { t: "test"; file: string; suite: string; name: string; start: number; ms: number; ok: boolean }
  | { t: "skip"; file: string; suite: string; name: string }
  | {
      t: "hook";
      file: string;
      suite: string;
      hook: HookName;
      start: number;
      ms: number;
      ok: boolean;
      error?: string;
    };
type HookName = "before" | "after" | "before.each" | "after.each";

const RECORD = process.env.TEST_RECORD;

function record(r: TestRecord): void {
  if (RECORD) appendFileSync(RECORD, `${JSON.stringify(r)}\n`);
}

declare global {
  var UVU_QUEUE: unknown[][] | undefined;
  var UVU_INDEX: number | undefined;
}

/** The test file being imported: uvu's CLI queues each file's name before importing it. */
function currentFile(): string {
  const name = globalThis.UVU_QUEUE?.[globalThis.UVU_INDEX ?? 0]?.[0];
  return typeof name === "string" ? name : "";
}

const messageOf = (err: unknown): string =>
  err instanceof Error ? (err.stack ?? err.message) : String(err);

function timedTest<T>(title: string, name: string, fn: Callback<T>): Callback<T> {
  const file = currentFile();
  return async (ctx) => {
    const start = Date.now();
    const t0 = performance.now();
    let ok = false;
    try {
      await fn(ctx);
      ok = true;
    } finally {
      record({ t: "test", file, suite: title, name, start, ms: performance.now() - t0, ok });
    }
  };
}

function timedHook<T>(title: string, hook: HookName, fn: Callback<T>): Callback<T> {
  const file = currentFile();
  return async (ctx) => {
    const start = Date.now();
    const t0 = performance.now();
    try {
      await fn(ctx);
      record({ t: "hook", file, suite: title, hook, start, ms: performance.now() - t0, ok: true });
    } catch (err) {
      const ms = performance.now() - t0;
      record({ t: "hook", file, suite: title, hook, start, ms, ok: false, error: messageOf(err) });
      throw err;
    }
  };
}

function wrap<T>(inner: Test<T>, title: string): Test<T> {
  const t = ((name: string, fn: Callback<T>) => inner(name, timedTest(title, name, fn))) as Test<T>;
  t.only = (name, fn) => inner.only(name, timedTest(title, name, fn));
  t.skip = (name, fn) => {
    record({ t: "skip", file: currentFile(), suite: title, name: name ?? "(unnamed)" });
    inner.skip(name, fn);
  };
  const hook = (real: (fn: Callback<T>) => void, name: HookName): ((fn: Callback<T>) => void) => {
    return (fn) => real(timedHook(title, name, fn));
  };
  t.before = Object.assign(hook(inner.before, "before"), {
    each: hook(inner.before.each, "before.each"),
  });
  t.after = Object.assign(hook(inner.after, "after"), {
    each: hook(inner.after.each, "after.each"),
  });
  t.run = () => inner.run();
  return t;
}

export function suite<T = Context>(title = "", context?: T): Test<T> {
  return wrap(uvuSuite(title, context), title);
}

// uvu's own default suite, so `test.run()` queues exactly as before.
export const test: Test<Context> = wrap(uvuTest, "");

export { exec };
