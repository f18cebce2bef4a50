/**
 * The pipeline in a real terminal (tmux) and in a pipe, on the Docker engine: `lint` plus one unit cell.
 * - In tmux the live board is drawn in place: rows are seen running, then passed, with times; the screen
 *   never scrolls with raw log lines (the board's header stays on the top line), and each cell's output is in
 *   reports/logs/. Ctrl-C leaves the board as it was, shows the cursor again and cleans up.
 * - With stdout piped, the output is plain lines without a single escape sequence.
 * - `images --offline` in tmux draws the same board, a row per image; NO_COLOR drops its colour codes.
 * - With GITHUB_ACTIONS=true (piped, as on a runner): a group per passing cell, the failing cell whole outside
 *   any group, and one `::error` annotation.
 * tmux is a Debian package the doctor installs; without it these fail under REQUIRE_DOCKER=1, else skip.
 * A host test (`npm test`, .ci/run): it needs this machine's terminal, tmux, Docker and offline images, which no
 * pipeline cell has (integration cells have no daemon and run with REQUIRE_DOCKER=1).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig } from "../../../../ci/config.js";
import { platformRef } from "../../../../ci/lib/platform.js";
import { CA_BUNDLE } from "../../../helpers/ca.js";
import { dockerAvailable, leftovers } from "../../../helpers/docker.js";
import { configWithoutApt, fixtureRepo } from "../../../helpers/fixture-repo.js";

const repo = process.cwd();
const MAIN = join(repo, "ci", "main.ts");
const TSX = fileURLToPath(import.meta.resolve("tsx"));
const SOCKET = `codex-ci-test-${process.pid}`;
const ESC = String.fromCharCode(27);
// Times on the board read "4.2s" or, past a minute, "1m02s": the regexes take both.
const dirs: string[] = [];
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;

/** Runs when Docker and tmux are here; fails under REQUIRE_DOCKER=1 when one is missing; else skips. */
function terminalTest(name: string, fn: () => Promise<void>) {
  if (dockerAvailable && hasTmux) test(name, fn);
  else if (process.env.REQUIRE_DOCKER === "1")
    test(name, () => {
      throw new Error(
        `REQUIRE_DOCKER=1 but ${dockerAvailable ? "tmux is missing (npm run setup installs it)" : "Docker does not answer"}`,
      );
    });
  else test.skip(name, fn);
}

/**
 * A fixture repo whose unit test takes `ms` (so it is seen running) and passes, or fails when `fails`, with a
 * config without apt packages.
 */
function fixture(ms: number, fails = false): { dir: string; config: string } {
  const dir = fixtureRepo(`import assert from "node:assert/strict";
import { test } from "node:test";

test("adds ${process.pid}-${Date.now()}", async () => {
  await new Promise((r) => setTimeout(r, ${ms}));
  assert.equal(1 + 1, ${fails ? 3 : 2});
});
`);
  dirs.push(dir);
  return { dir, config: configWithoutApt(join(dir, "pipeline.yaml")) };
}

/** The environment of the runs: this one, without what would choose another output (Actions, colours). */
const ENV = Object.fromEntries(
  Object.entries(process.env).filter(
    ([k]) => !["GITHUB_ACTIONS", "NO_COLOR", "FORCE_COLOR", "CI"].includes(k),
  ),
);

/** tmux on a server of this suite's own; the first call starts it with ENV as its global environment. */
const tmux = (...args: string[]) =>
  spawnSync("tmux", ["-L", SOCKET, ...args], { encoding: "utf8", env: ENV });

/**
 * The pipeline in a tmux pane of 120×40 that stays after it exits. Every byte it writes is also kept in
 * `bytes` (pipe-pane): the screen shows where the cursor was hidden and shown only while the process lives.
 */
function startInTmux(name: string, cwd: string, args: string[], env: Record<string, string>) {
  const made = tmux("new-session", "-d", "-s", name, "-x", "120", "-y", "40", "sleep 3600");
  assert.is(made.status, 0, made.stderr);
  tmux("set-option", "-t", name, "remain-on-exit", "on");
  const bytes = join(cwd, "pane.bytes");
  tmux("pipe-pane", "-o", "-t", name, `cat >> '${bytes}'`);
  const envArgs = Object.entries(env).flatMap(([k, v]) => ["-e", `${k}=${v}`]);
  // bash waits for the pipeline (which handles Ctrl-C itself and exits 130), then records its exit code.
  const code = join(cwd, "exit.code");
  const argv = [process.execPath, "--import", TSX, MAIN, ...args].map((a) => `'${a}'`).join(" ");
  const run = tmux(
    "respawn-pane",
    "-k",
    "-t",
    name,
    "-c",
    cwd,
    ...envArgs,
    "bash",
    "-c",
    `${argv}; echo $? > '${code}'; sleep 3600`,
  );
  assert.is(run.status, 0, run.stderr);
  return {
    bytes: () => (existsSync(bytes) ? readFileSync(bytes, "latin1") : ""),
    /** The exit code once the pipeline has ended, else undefined. */
    exit: () => (existsSync(code) ? readFileSync(code, "utf8").trim() : undefined),
    /** The whole pane, with what scrolled off its top. */
    all: () => tmux("capture-pane", "-p", "-S", "-", "-t", name).stdout,
  };
}

const HIDE = `${String.fromCharCode(27)}[?25l`;
const SHOW = `${String.fromCharCode(27)}[?25h`;

/** What the pane shows now, one string per screen line. */
const screen = (name: string): string[] =>
  tmux("capture-pane", "-p", "-t", name).stdout.split("\n");

/** `#{format}` of the pane. */
const paneVar = (name: string, v: string) =>
  tmux("display-message", "-p", "-t", name, `#{${v}}`).stdout.trim();

/** Polls the pane until `done(screen)` or the pipeline exits; returns every screen seen. */
async function watch(
  name: string,
  pane: { exit(): string | undefined },
  done: (s: string[]) => boolean,
  timeoutMs = 1_200_000,
) {
  const seen: string[][] = [];
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const s = screen(name);
    seen.push(s);
    if (done(s) || pane.exit() !== undefined) break;
    await new Promise((r) => setTimeout(r, 150));
  }
  seen.push(screen(name));
  return seen;
}

const baseEnv = (runId: string) => ({ CODEX_CI_RUN_ID: runId, NODE_EXTRA_CA_CERTS: CA_BUNDLE });

terminalTest(
  "in a terminal the board shows rows queued for a slot, running, then passed with times, and raw lines never scroll it",
  async () => {
    const { dir, config } = fixture(4000);
    const runId = `tty${process.pid.toString(36)}`;
    // One --jobs slot for the two containers: one row waits for it, queued, while the other runs.
    const args = [
      "lint",
      "test",
      "--node",
      "22",
      "--only",
      "unit",
      "--engine",
      "docker",
      "-j",
      "1",
    ];
    const pane = startInTmux("board", dir, [...args, "--config", config], baseEnv(runId));
    const seen = await watch("board", pane, () => false);
    const final = seen.at(-1) ?? [];
    const all = (s: string[]) => s.join("\n");
    assert.is(pane.exit(), "0", all(final));
    // While it ran: the header on the top line of every screen, rows running with their time and step.
    // Screens from the first frame drawn until the summary table.
    const live = seen.filter((s) => all(s).trim() !== "" && !/PASSED in|FAILED in/.test(all(s)));
    assert.ok(live.length > 3, `only ${live.length} screens before the end`);
    for (const s of live)
      assert.match(s[0] ?? "", /^codex-ci run tty\S+ · engine docker · slots [01]\/1 · \d/, all(s));
    assert.ok(
      live.some((s) => /^codex-ci run tty\S+ · engine docker · slots 1\/1 · /.test(s[0] ?? "")),
      "the header counts the slot in use",
    );
    assert.ok(
      live.some((s) =>
        /^ {2}(?:node|node22\/unit)\s+○ queued\s+(?:\d+\.\d|\d+m\d\d)s\s+waiting for a --jobs slot$/m.test(
          all(s),
        ),
      ),
      "a row seen queued for the --jobs slot",
    );
    assert.ok(
      live.some((s) => /^ {2}node22\/unit\s+\S running\s+(?:\d+\.\d|\d+m\d\d)s/m.test(all(s))),
      "node22/unit seen running with its time",
    );
    assert.ok(
      live.some((s) =>
        /^ {2}node22\/unit\s+\S running\s+(?:\d+\.\d|\d+m\d\d)s\s+test:unit$/m.test(all(s)),
      ),
      "node22/unit seen on its step test:unit",
    );
    assert.ok(
      live.some((s) => /^ {2}node\s+\S running\s+(?:\d+\.\d|\d+m\d\d)s/m.test(all(s))),
      "lint node running",
    );
    // At the end: the board left in place with passed rows and times, then the summary table.
    const text = all(final);
    assert.match(final[0] ?? "", /^codex-ci run tty/);
    assert.match(text, /^ {2}node22\/unit\s+✔ passed\s+(?:\d+\.\d|\d+m\d\d)s/m);
    assert.match(text, /^lint\s+✔ passed\s+(?:\d+\.\d|\d+m\d\d)s/m);
    assert.match(text, /^test\s+✔ passed\s+(?:\d+\.\d|\d+m\d\d)s/m);
    assert.match(text, /^PASSED in \S+ \(engine docker\)$/m);
    // No raw output on the screen at any time: it is in the logs.
    for (const s of seen) {
      assert.not.match(all(s), /\[test node22\/unit\]|\$ npm ci|# pass 1|added \d+ packages/);
    }
    const bytes = pane.bytes();
    assert.ok(bytes.includes(HIDE), "the board hides the cursor");
    assert.ok(bytes.lastIndexOf(SHOW) > bytes.lastIndexOf(HIDE), "and shows it again");
    const log = readFileSync(join(dir, "reports", "logs", "test", "node22-unit.log"), "utf8");
    assert.match(log, /\$ npm run --silent test:unit/);
    assert.match(log, /# pass 1/);
    assert.ok(existsSync(join(dir, "reports", "logs", "lint", "node.log")));
    assert.is(leftovers(runId), "");
  },
);

terminalTest(
  "Ctrl-C while the board is up: the board stays as it was, the cursor shows, the run is cleaned up",
  async () => {
    const { dir, config } = fixture(120_000);
    const runId = `ttyint${process.pid.toString(36)}`;
    const args = [
      "test",
      "--node",
      "22",
      "--only",
      "unit",
      "--engine",
      "docker",
      "--config",
      config,
    ];
    const pane = startInTmux("interrupt", dir, args, baseEnv(runId));
    const running = (s: string[]) =>
      /^ {2}node22\/unit\s+\S running\s+(?:\d+\.\d|\d+m\d\d)s\s+test:unit$/m.test(s.join("\n"));
    const before = await watch("interrupt", pane, running);
    assert.ok(running(before.at(-1) ?? []), (before.at(-1) ?? []).join("\n"));
    assert.is(paneVar("interrupt", "cursor_flag"), "0", "the board hides the cursor while it runs");
    assert.ok(pane.bytes().includes(HIDE));
    tmux("send-keys", "-t", "interrupt", "C-c");
    await watch("interrupt", pane, () => false, 120_000);
    const text = pane.all();
    assert.is(pane.exit(), "130", text);
    assert.match(text, /^codex-ci run ttyint/m, text);
    assert.match(
      text,
      /^ {2}node22\/unit\s+\S running\s+(?:\d+\.\d|\d+m\d\d)s\s+test:unit$/m,
      "board left as it was",
    );
    assert.match(text, /\[pipeline\] SIGINT: stopping and cleaning up/);
    // The cursor is shown again before anything is printed under the board.
    const bytes = pane.bytes();
    const said = bytes.indexOf("[pipeline] SIGINT");
    assert.ok(said > 0, "the SIGINT message was written");
    const shown = bytes.lastIndexOf(SHOW, said);
    assert.ok(shown > bytes.lastIndexOf(HIDE, said), "cursor shown before the SIGINT message");
    assert.is(leftovers(runId), "");
  },
);

terminalTest("with stdout piped the output is plain lines, without escape sequences", async () => {
  const { dir, config } = fixture(500);
  const runId = `pipe${process.pid.toString(36)}`;
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      TSX,
      MAIN,
      "lint",
      "test",
      "--node",
      "22",
      "--only",
      "unit",
      "--engine",
      "docker",
      "--config",
      config,
    ],
    {
      cwd: dir,
      encoding: "utf8",
      env: { ...ENV, ...baseEnv(runId), TERM: "xterm-256color" },
      timeout: 1_200_000,
    },
  );
  const out = `${r.stdout}${r.stderr}`;
  assert.is(r.status, 0, out.slice(-3000));
  assert.not.ok(out.includes(ESC), "no escape sequence (cursor, colour) in piped output");
  assert.not.match(out, /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/, "no spinner frames");
  assert.match(out, /^\[test node22\/unit\] \$ npm run --silent test:unit$/m);
  assert.match(out, /^\[test node22\/unit\] passed in \S+$/m);
  assert.match(out, /^PASSED in \S+ \(engine docker\)$/m);
  assert.is(leftovers(runId), "");
});

/** A colour or style code (SGR: ESC [ … m); cursor movement and hiding never end in "m". */
const SGR = new RegExp(`${ESC}\\[[0-9;]*m`);

terminalTest(
  "images --offline in a terminal: the same board, a row per image with mark and time; NO_COLOR drops the colours",
  async () => {
    const config = await loadConfig(join(repo, "ci", "pipeline.yaml"));
    const node = (v: string) => config.images.node.replace("{version}", v);
    // The images the command keeps or builds, as the doctor's base-images row lists them.
    const refs = [
      ...config.node.filter((v) => v !== config.image.nodeVersion).map(node),
      node(config.image.nodeVersion),
      ...config.platforms
        .filter((p) => p !== `linux/${process.arch === "arm64" ? "arm64" : "amd64"}`)
        .map((p) => platformRef(node(config.image.nodeVersion), p)),
      config.images.prometheus,
      config.images.alertmanager,
      config.images.dind,
    ];
    for (const [name, env] of [
      ["images", {}],
      ["images-nocolor", { NO_COLOR: "1" }],
    ] as const) {
      const dir = mkdtempSync(join(tmpdir(), "codex-ci-images-"));
      dirs.push(dir);
      const args = ["images", "--offline", "--config", join(repo, "ci", "pipeline.yaml")];
      const pane = startInTmux(name, dir, args, { ...env, NODE_EXTRA_CA_CERTS: CA_BUNDLE });
      // Present images are kept in a second or two; building missing ones takes minutes (setup builds them).
      const seen = await watch(name, pane, () => false, 1_800_000);
      const final = seen.at(-1) ?? [];
      const text = final.join("\n");
      assert.is(pane.exit(), "0", text);
      assert.match(final[0] ?? "", /^codex-ci images --offline · \d/, text);
      assert.match(text, /^images\s+✔ passed\s+(?:\d+\.\d|\d+m\d\d)s/m);
      for (const ref of refs)
        assert.match(
          text,
          new RegExp(
            `^ {2}${ref.replace(/[.*+?^$()|[\]\\]/g, "\\$&")}\\s+(?:↺ cached|✔ passed)\\s+(?:\\d+\\.\\d|\\d+m\\d\\d)s`,
            "m",
          ),
          `${ref} has no row with its time:\n${text}`,
        );
      const bytes = pane.bytes();
      assert.ok(bytes.includes(HIDE), "drawn as a board (cursor hidden while it runs)");
      if (name === "images") assert.match(bytes, SGR, "coloured marks on a terminal");
      else assert.not.match(bytes, SGR, "NO_COLOR: no colour or style codes");
    }
  },
);

/** The pipeline's stdout and stderr with stdout piped, in `dir`, with `env` over ENV. */
function piped(dir: string, args: string[], env: Record<string, string>) {
  const r = spawnSync(process.execPath, ["--import", TSX, MAIN, ...args], {
    cwd: dir,
    encoding: "utf8",
    env: { ...ENV, ...env },
    timeout: 1_200_000,
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

terminalTest(
  "a captured run with GITHUB_ACTIONS=true: a group per passing cell, the failing cell whole outside any, one ::error",
  async () => {
    const { dir, config } = fixture(200, true);
    const runId = `gh${process.pid.toString(36)}`;
    const summary = join(dir, "step-summary.md");
    const r = piped(
      dir,
      ["lint", "test", "--node", "22", "--only", "unit", "--engine", "docker", "--config", config],
      { ...baseEnv(runId), GITHUB_ACTIONS: "true", GITHUB_STEP_SUMMARY: summary },
    );
    assert.is(r.status, 1, r.out.slice(-3000));
    assert.not.ok(r.out.includes(ESC), "no escape sequences in an Actions log");
    const lines = r.out.split("\n");
    // Every group holds the lines of its own row and nothing else, and is closed.
    const groups = lines.flatMap((l, i) => (l.startsWith("::group::") ? [i] : []));
    const titles = groups.map((i) => (lines[i] ?? "").slice("::group::".length));
    assert.ok(titles.includes("lint node"), `no ::group::lint node in ${titles.join(", ")}`);
    for (const i of groups) {
      const end = lines.indexOf("::endgroup::", i);
      assert.ok(end > i, `${lines[i]} never closed`);
      const title = (lines[i] ?? "").slice("::group::".length);
      for (const l of lines.slice(i + 1, end))
        assert.ok(l.startsWith(`[${title}] `), `${l} in ${title}`);
    }
    // The failing cell outside any group, whole: from its first step to the failing assertion, then its
    // result, its log file and the annotation.
    assert.not.ok(titles.includes("test node22/unit"), "the failing cell is not folded away");
    const from = lines.findIndex((l) => l.startsWith("[test node22/unit] $ "));
    const result = lines.findIndex((l) =>
      /^\[test node22\/unit\] failed in \S+: .*test:unit/.test(l),
    );
    assert.ok(from >= 0 && result > from, r.out.slice(-3000));
    const cell = lines.slice(from, result);
    assert.ok(
      cell.every((l) => l.startsWith("[test node22/unit] ")),
      cell.join("\n"),
    );
    assert.ok(
      cell.some((l) => l.startsWith("[test node22/unit] not ok 1 - adds")),
      cell.join("\n"),
    );
    assert.ok(
      cell.some((l) => / 2 !== 3$/.test(l)),
      "the failing assertion is shown",
    );
    assert.is(lines[result + 1], "[test node22/unit] log: reports/logs/test/node22-unit.log");
    const annotation = result + 2;
    assert.match(
      lines[annotation] ?? "",
      /^::error title=test node22\/unit::node22\/unit: step "test:unit" failed/,
    );
    // One annotation in all: the failing cell's, none for lint's passing checks or again from the summary.
    assert.equal(
      lines.filter((l) => l.startsWith("::error")),
      [lines[annotation]],
    );
    assert.match(r.out, /^FAILED in \S+ \(engine docker\)$/m);
    assert.match(readFileSync(summary, "utf8"), /test node22\/unit/);
    assert.is(leftovers(runId), "");
  },
);

test.after(() => {
  tmux("kill-server");
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
test.run();
