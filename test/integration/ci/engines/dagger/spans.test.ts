/**
 * Contract test of the pipeline's custom spans: `ci/main.ts` runs as `dagger run npx tsx ci/main.ts` runs it, a
 * child process given the session (DAGGER_SESSION_PORT/TOKEN, here the recording GraphQL server) and the
 * telemetry variables the CLI sets (TRACEPARENT and the OTLP endpoint, here a receiver in this process). The
 * real SDK sets up OpenTelemetry from them, so what is asserted is what the engine and the CLI's TUI receive:
 * the `traceparent` of each query (which span the engine nests a call under) and the exported spans (names,
 * parents, status).
 *
 * A child process of its own, too, because the SDK sets telemetry up once per process, at the first
 * `connection()`: another contract test in this process would decide it.
 */
import { execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { TRACER_NAME } from "../../../../../ci/engines/dagger/spans.js";
import { type Answer, type Recorder, startRecorder } from "../../../../helpers/dagger-recorder.js";
import { type ReceivedSpan, startOtlpReceiver } from "../../../../helpers/otlp-receiver.js";

const repoRoot = process.cwd();
/** tsx's loader by URL: the child runs in a temp root, where a bare "tsx" does not resolve. */
const TSX = import.meta.resolve("tsx");
/** The span `dagger run` would run the program under. */
const TRACE_ID = randomBytes(16).toString("hex");
const PARENT_SPAN = randomBytes(8).toString("hex");

/** A temp root (git repo, package.json, .dockerignore), so the build stage writes its reports there. */
function tempRoot(): string {
  const root = mkdtempSync(join(tmpdir(), "dagger-spans-"));
  cpSync(join(repoRoot, "package.json"), join(root, "package.json"));
  cpSync(join(repoRoot, ".dockerignore"), join(root, ".dockerignore"));
  const git = (...a: string[]) => execFileSync("git", ["-C", root, ...a], { stdio: "ignore" });
  git("init", "-q", "-b", "main");
  git("add", ".");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init");
  return root;
}

/** The node:24 cell's tests fail (exit 1); `export` writes the file it names, as the engine would. */
const answer: Answer = (field, chain, args) => {
  if (field === "export" && typeof args.path === "string") {
    writeFileSync(args.path, "");
    return args.path;
  }
  if (
    field === "exitCode" &&
    chain.some((c) => c.includes('"node:24-bookworm-slim"')) &&
    chain.at(-1)?.includes('"test:unit"')
  )
    return 1;
  return undefined;
};

/** Runs `ci/main.ts` as `dagger run` would, against the recorder and the OTLP receiver. */
async function daggerRun(args: string[]) {
  const rec = await startRecorder(answer);
  const otlp = await startOtlpReceiver();
  const root = tempRoot();
  const env: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("OTEL_") && k !== "TRACEPARENT"),
  );
  Object.assign(env, rec.env, {
    TRACEPARENT: `00-${TRACE_ID}-${PARENT_SPAN}-01`,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: otlp.endpoint,
    OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/protobuf",
    OTEL_EXPORTER_OTLP_TRACES_LIVE: "1",
    OTEL_TRACES_EXPORTER: "otlp",
  });
  try {
    const child = spawn(
      process.execPath,
      [
        "--import",
        TSX,
        join(repoRoot, "ci/main.ts"),
        ...args,
        "--engine",
        "dagger",
        "--config",
        join(repoRoot, "ci/pipeline.yaml"),
      ],
      { cwd: root, env, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    // Bounded: a run that hangs is stopped (it then cleans up and exits 130) and the tests fail.
    const timer = setTimeout(() => child.kill("SIGTERM"), 180_000);
    const code = await new Promise<number | null>((r) => child.on("close", r));
    clearTimeout(timer);
    return { code, out, rec, spans: otlp.spans() };
  } finally {
    await rec.close();
    await otlp.close();
    rmSync(root, { recursive: true, force: true });
  }
}

/** The `traceparent` a query carried: trace id and parent span id. */
function traceparentOf(
  q: Recorder["queries"][number],
): { traceId: string; spanId: string } | undefined {
  const header = q.headers?.traceparent;
  const m =
    typeof header === "string" ? /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(header) : null;
  return m ? { traceId: m[1] as string, spanId: m[2] as string } : undefined;
}

/** One run for every test below, started by the first. */
let started: ReturnType<typeof daggerRun> | undefined;
const run = () =>
  (started ??= daggerRun(["test", "build", "--only", "unit", "--node", "22,24", "-j", "4"]));

/** The pipeline's own spans, by name. */
async function ours(): Promise<Map<string, ReceivedSpan>> {
  const { spans } = await run();
  return new Map(spans.filter((s) => s.scope === TRACER_NAME).map((s) => [s.name, s]));
}

test("the run exits 1 (the node24 cell fails) and every span ended", async () => {
  const { code, out, spans } = await run();
  assert.is(code, 1, out);
  assert.match(out, "node24/unit");
  const mine = spans.filter((s) => s.scope === TRACER_NAME);
  assert.ok(
    mine.length > 0,
    `no span of ${TRACER_NAME} exported; got ${spans.length} spans\n${out}`,
  );
  for (const s of mine) assert.ok(s.endTimeUnixNano > 0n, `${s.name} never ended`);
});

test("stage spans hang from the span of `dagger run` (TRACEPARENT), in its trace", async () => {
  const spans = await ours();
  for (const stage of ["test", "build"]) {
    const s = spans.get(stage);
    assert.ok(s, `no span for stage ${stage}; got ${[...spans.keys()].join(", ")}`);
    assert.is(s?.traceId, TRACE_ID, stage);
    assert.is(s?.parentSpanId, PARENT_SPAN, stage);
  }
});

test("each matrix cell and each platform build has a distinct span under its stage's span", async () => {
  const spans = await ours();
  const children = {
    test: ["node22/unit", "node24/unit"],
    build: ["linux/amd64", "linux/arm64"],
  };
  const ids = new Set<string>();
  for (const [stage, names] of Object.entries(children))
    for (const name of names) {
      const s = spans.get(name);
      assert.ok(s, `no span for ${name}; got ${[...spans.keys()].join(", ")}`);
      assert.is(s?.traceId, TRACE_ID, name);
      assert.is(s?.parentSpanId, spans.get(stage)?.spanId, `${name} under ${stage}`);
      ids.add(s?.spanId as string);
    }
  assert.is(ids.size, 4, "four distinct span ids");
});

test("a cell's queries carry its span as traceparent, so the engine nests its execs under the cell", async () => {
  const { rec } = await run();
  const spans = await ours();
  const chains = rec.chains();
  /** A cell's containers; a platform's build (its `sync`: later queries of the image are the load's). */
  const cell = (image: string) => (chain: string[]) => chain[1] === `from(address: "${image}")`;
  const platform = (p: string) => (chain: string[]) =>
    chain.some((c) => c.startsWith("dockerBuild(") && c.includes(`platform: "${p}"`)) &&
    chain.at(-1) === "sync";
  for (const [name, sentBy] of [
    ["node22/unit", cell("node:22-bookworm-slim")],
    ["node24/unit", cell("node:24-bookworm-slim")],
    ["linux/amd64", platform("linux/amd64")],
    ["linux/arm64", platform("linux/arm64")],
    ["load", (chain: string[]) => chain.at(-1)?.startsWith("exportImage(") === true],
  ] as const) {
    const span = spans.get(name);
    const sent = rec.queries.filter((_, i) => sentBy(chains[i] ?? []));
    assert.ok(sent.length > 0, `no query for ${name}`);
    for (const q of sent) {
      const tp = traceparentOf(q);
      assert.ok(tp, `a query of ${name} has no traceparent: ${q.query}`);
      assert.is(tp?.traceId, TRACE_ID);
      assert.is(tp?.spanId, span?.spanId, `a query of ${name} is not under its span: ${q.query}`);
    }
  }
  // Every query the SDK sent belongs to the trace of `dagger run`.
  for (const q of rec.queries) assert.is(traceparentOf(q)?.traceId, TRACE_ID, q.query);
});

test("the failed cell's span and its stage's span are marked failed; the passing ones are not", async () => {
  const spans = await ours();
  const ERROR = 2;
  const failed = spans.get("node24/unit");
  assert.is(failed?.statusCode, ERROR);
  assert.match(failed?.statusMessage ?? "", "test:unit");
  assert.is(spans.get("test")?.statusCode, ERROR);
  assert.match(spans.get("test")?.statusMessage ?? "", "node24/unit");
  for (const name of ["node22/unit", "linux/amd64", "linux/arm64", "build"])
    assert.is.not(spans.get(name)?.statusCode, ERROR, name);
});

test.run();
