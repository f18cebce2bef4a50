/**
 * Experiment (issue 11): BuildKit as the step cache instead of the `docker commit` chain. A run becomes a
 * generated Dockerfile built with `docker build` (BuildKit): one `RUN` per step with the run's cache volumes
 * as `--mount=type=cache` and its files as secret mounts, the source `COPY`d after the setup steps, and a
 * last stage that hands each step's exit code and the run's outputs back through `--output type=local`.
 * Chosen with CODEX_CI_DOCKER_STEP_CACHE=buildkit, for runs BuildKit can express (see `buildable`).
 */
import { createHash } from "node:crypto";
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { LineSink, RunResult, RunSpec, Step, StepResult } from "../../engine.js";
import { StepFailed } from "../errors.js";
import type { DockerCli } from "./cli.js";

/** Names each step's RUN (as the wrapper's $0), so progress lines and cache records map back to steps. */
export const MARK = "codex-ci-step";
const EXIT_DIR = "/tmp/codex-ci-exit";
/** BuildKit's limit for a secret, and so for a file mounted as one. */
const MAX_FILE = 500 * 1024;

/**
 * Runs the step, writes its exit code, and fails the RUN only when the step may not fail (a failing RUN ends
 * the build). Arguments: $0 the mark, $1 "allow" or "must", $2 the files' digest (for the cache key), argv.
 */
const WRAP = `a=$1; shift 2; "$@"; r=$?; mkdir -p ${EXIT_DIR} && echo $r > ${EXIT_DIR}/\${0##*-}; [ "$a" = allow ] || exit $r`;

/**
 * What a build cannot do keeps the container path: services (a build joins no network of ours), secret env
 * (BuildKit leaves secrets out of its cache key, so a rotated token would be served a stale result), files
 * over BuildKit's secret limit, and a run with no steps.
 */
export function buildable(spec: RunSpec): boolean {
  return (
    !spec.services?.length &&
    !spec.secretEnv &&
    spec.steps.length + (spec.setup?.length ?? 0) > 0 &&
    (spec.files ?? []).every((f) => statSync(f.from).size <= MAX_FILE)
  );
}

/** The Dockerfile of a run; `filesKey` is the files' content digest, which BuildKit does not hash itself. */
export function dockerfile(spec: RunSpec, filesKey: string): string {
  const setup = spec.setup ?? [];
  const all = [...setup, ...spec.steps];
  const mounts = [
    ...Object.entries(spec.caches ?? {}).map(
      ([to, id]) => `--mount=type=cache,id=${id},target=${to}`,
    ),
    ...(spec.files ?? []).map((f, k) => `--mount=type=secret,id=file${k},target=${f.to},mode=0444`),
  ];
  const lines = [`FROM ${spec.image} AS run`];
  if (spec.user) lines.push(`USER ${spec.user}`);
  const workdir = spec.workdir ?? spec.source?.to;
  if (workdir) lines.push(`WORKDIR ${workdir}`);
  for (const [i, step] of all.entries()) {
    if (i === setup.length && spec.source)
      lines.push(`COPY ${JSON.stringify([".", spec.source.to])}`);
    const env = Object.entries({ ...spec.env, ...step.env }).map(([k, v]) => `${k}=${v}`);
    const argv = ["/bin/sh", "-c", WRAP, `${MARK}-${i}`, step.allowFailure ? "allow" : "must"];
    argv.push(filesKey, ...(env.length ? ["env", ...env] : []), ...step.args);
    lines.push(["RUN", ...mounts, JSON.stringify(argv)].join(" "));
  }
  if (all.length === setup.length && spec.source)
    lines.push(`COPY ${JSON.stringify([".", spec.source.to])}`);
  lines.push("FROM scratch", `COPY --from=run ${EXIT_DIR}/ /exit/`);
  for (const [k, from] of Object.keys(spec.outputs ?? {}).entries())
    lines.push(`COPY --from=run ${JSON.stringify([from, `/out/${k}`])}`);
  return `${lines.join("\n")}\n`;
}

/** What `--progress plain` said about one step's RUN. */
interface Seen {
  out: string[];
  cached?: boolean;
  ms?: number;
  exit?: number;
}

/**
 * Follows BuildKit's plain progress: `#<n> [run k/N] RUN …` names a vertex, then `#<n> <secs> <line>` is its
 * output, `#<n> CACHED`, `#<n> DONE 1.2s` or `#<n> ERROR: … exit code: 2` its end. Logs `$ argv` per step in
 * step order (BuildKit reports cache hits in any order), `(cached)` when served from the cache, then its output.
 */
export function progress(all: Step[], log: LineSink) {
  const vertex = new Map<string, number>();
  const seen = new Map<number, Seen>();
  const head = new RegExp(`^\\[[^\\]]*\\] RUN .*"${MARK}-(\\d+)"`);
  let shown = 0;
  /** Logs the steps up to `upTo`; a step before one that ran came from the cache, even if not said yet. */
  const show = (upTo: number) => {
    for (; shown <= upTo; shown++) {
      const s = seen.get(shown) ?? { out: [], cached: true };
      seen.set(shown, s);
      log(`$ ${all[shown]?.args.join(" ")}${s.cached ? "   (cached)" : ""}`);
    }
  };
  const onLine = (line: string) => {
    const [, id = "", rest = ""] = /^#(\d+) (.*)$/.exec(line) ?? [];
    const named = head.exec(rest);
    if (named) return void vertex.set(id, Number(named[1]));
    const i = vertex.get(id);
    // One form per line: CACHED, DONE <secs>s, ERROR: … exit code: <n>, or <secs> <output>.
    const m = /^(?:CACHED|DONE ([\d.]+)s|ERROR: .*exit code: (\d+)|([\d.]+)(?: (.*))?)$/.exec(rest);
    if (i === undefined || !m) return;
    const [, done, exit, at, text = ""] = m;
    const s = seen.get(i) ?? { out: [] };
    seen.set(i, s);
    if (rest === "CACHED") {
      s.cached = true;
      while (seen.get(shown)?.cached) show(shown);
      return;
    }
    show(i);
    if (done) s.ms = Math.round(Number(done) * 1000);
    if (exit) s.exit = Number(exit);
    if (at) {
      s.out.push(text);
      log(text);
    }
  };
  return { onLine, seen, end: () => show(Math.max(-1, ...seen.keys())) };
}

/** Runs `spec` as one `docker build`; rejects with a StepFailed on the first failing step, as the container path does. */
export async function buildRun(
  docker: DockerCli,
  spec: RunSpec,
  opts: { cache: boolean },
): Promise<RunResult> {
  const all = [...(spec.setup ?? []), ...spec.steps];
  const dir = mkdtempSync(join(tmpdir(), "codex-ci-run-"));
  try {
    const files = spec.files ?? [];
    const filesKey = createHash("sha256");
    for (const f of files) filesKey.update(`${f.to}\0`).update(readFileSync(f.from));
    writeFileSync(join(dir, "Dockerfile"), dockerfile(spec, filesKey.digest("hex").slice(0, 16)));
    // The source's excludes, matched at any depth, as a Dockerfile-specific ignore file (the repo's own
    // .dockerignore is the image's allow-list, not this).
    const exclude = spec.source?.exclude ?? [];
    writeFileSync(join(dir, "Dockerfile.dockerignore"), exclude.map((e) => `**/${e}\n`).join(""));
    const context = spec.source ? resolve(spec.source.from ?? ".") : join(dir, "empty");
    mkdirSync(join(dir, "empty"));
    const args = ["build", "--progress", "plain", "--file", join(dir, "Dockerfile")];
    if (!opts.cache) args.push("--no-cache");
    if (spec.platform) args.push("--platform", spec.platform);
    for (const [k, f] of files.entries())
      args.push("--secret", `id=file${k},src=${resolve(f.from)}`);
    args.push("--output", `type=local,dest=${join(dir, "out")}`, context);
    const p = progress(all, spec.log ?? (() => {}));
    const r = await docker.try(args, {
      onLine: p.onLine,
      ...(spec.signal ? { signal: spec.signal } : {}),
    });
    p.end();
    const failing = [...p.seen].find(([, s]) => s.exit !== undefined);
    if (spec.signal?.aborted || (r.exitCode !== 0 && !failing)) {
      const step = all[failing?.[0] ?? [...p.seen.keys()].pop() ?? 0]?.name ?? "build";
      if (spec.signal?.aborted) throw new StepFailed(spec.name, step, -1, "");
      throw new Error(
        `${spec.name}: docker build failed: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`,
      );
    }
    if (failing) {
      const [i, s] = failing;
      throw new StepFailed(spec.name, all[i]?.name ?? "", s.exit ?? 1, s.out.join("\n"));
    }
    const steps: StepResult[] = all.map((step, i) => {
      const s = p.seen.get(i);
      const exitCode = Number(readFileSync(join(dir, "out", "exit", String(i)), "utf8"));
      const out = s?.out.join("\n") ?? "";
      return {
        name: step.name,
        exitCode,
        stdout: out,
        stderr: "",
        durationMs: s?.ms ?? 0,
        ...(!s || s.cached ? { cached: true } : {}),
      };
    });
    for (const [k, to] of Object.values(spec.outputs ?? {}).entries())
      cpSync(join(dir, "out", "out", String(k)), to, { recursive: true });
    return { steps };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
