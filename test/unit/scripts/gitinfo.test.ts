import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  GIT_VERSION_TTL_MS,
  gitVersion,
  type Runner,
  userFromFiles,
  userKeys,
} from "../../../scripts/lib/gitinfo.js";
import { cleanup, tempDir } from "../../helpers/proc.js";

/** Config files the reader must understand, and ones it must leave to git. */
const CONFIGS: Record<string, string> = {
  "as the entrypoint writes it": "[user]\n\tname = Codex Bot\n\temail = bot@example.com\n",
  "upper case, comments, no spaces":
    "# mine\n[USER] ; identity\nNAME=a\n  Email =b@c ; work\n[core]\n\tautocrlf = false\n",
  "a key without a value": "[user]\n\tname\n\temail = e@x\n",
  "split over two sections": "[user]\nname = a\n[core]\nx = 1\n[user]\nemail = b\n",
  "name only": "[user]\n\tname = a\n",
  "a subsection": '[user "work"]\n\tname = a\n\temail = b\n',
  "an old-style subsection": "[user.work]\n\tname = a\n\temail = b\n",
  "quoted values": '[user]\n\tname = "a b"\n\temail = b\n',
  "an escape": "[user]\n\tname = a\\tb\n\temail = b\n",
  "a continuation line": "[user]\n\tname = a \\\n b\n\temail = b\n",
  "an include": "[include]\n\tpath = other\n[user]\n\tname = a\n\temail = b\n",
  "a key before any section": "name = a\n[user]\n\tname = a\n\temail = b\n",
  "a malformed line": "[user]\n\tname = a\n\temail = b\n[broken\n",
  "a key with a space": "[user]\n\tna me = a\n\temail = b\n",
  "a header followed by a key": "[user] name = a\n\temail = b\n",
  empty: "",
};

test("userKeys reads the plain forms and gives up on the rest", () => {
  assert.equal(
    [...(userKeys(CONFIGS["as the entrypoint writes it"] ?? "") ?? [])],
    ["name", "email"],
  );
  assert.equal(
    [...(userKeys(CONFIGS["upper case, comments, no spaces"] ?? "") ?? [])],
    ["name", "email"],
  );
  assert.equal([...(userKeys(CONFIGS["a subsection"] ?? "") ?? [])], []);
  for (const k of [
    "quoted values",
    "an escape",
    "a continuation line",
    "an include",
    "a key before any section",
    "a malformed line",
    "a key with a space",
    "a header followed by a key",
  ])
    assert.is(userKeys(CONFIGS[k] ?? ""), undefined, k);
});

test("userFromFiles answers only what git answers (checked against the real git)", () => {
  const root = tempDir("gitinfo");
  try {
    const home = join(root, "home");
    mkdirSync(home);
    const env = { PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: "1" };
    const sure: string[] = [];
    for (const [name, text] of Object.entries(CONFIGS)) {
      writeFileSync(join(home, ".gitconfig"), text);
      const git = spawnSync("git", ["config", "--get-regexp", "^user\\.(name|email)$"], {
        cwd: root,
        env,
        encoding: "utf8",
      });
      const keys = new Set(git.stdout.split("\n").map((l) => l.split(" ")[0]));
      const gitSays = keys.has("user.name") && keys.has("user.email");
      const mine = userFromFiles(env, root);
      if (mine) assert.ok(gitSays, `${name}: read as configured, git disagrees`);
      if (mine) sure.push(name);
    }
    assert.equal(sure, [
      "as the entrypoint writes it",
      "upper case, comments, no spaces",
      "a key without a value",
      "split over two sections",
    ]);
    // The XDG file counts too, and together with ~/.gitconfig.
    writeFileSync(join(home, ".gitconfig"), "[user]\n\tname = a\n");
    mkdirSync(join(home, ".config", "git"), { recursive: true });
    writeFileSync(join(home, ".config", "git", "config"), "[user]\n\temail = b\n");
    assert.is(userFromFiles(env, root), true);
  } finally {
    cleanup(root);
  }
});

test("userFromFiles leaves it to git when git reads more than the files it knows", () => {
  const root = tempDir("gitinfo");
  try {
    const home = join(root, "home");
    mkdirSync(home);
    writeFileSync(join(home, ".gitconfig"), CONFIGS["as the entrypoint writes it"] ?? "");
    const env = { PATH: process.env.PATH, HOME: home, GIT_CONFIG_NOSYSTEM: "1" };
    assert.is(userFromFiles(env, root), true);
    assert.is(userFromFiles({ ...env, GIT_CONFIG_GLOBAL: "/elsewhere" }, root), undefined);
    assert.is(userFromFiles({ ...env, GIT_CONFIG_COUNT: "1" }, root), undefined);
    assert.is(userFromFiles({ ...env, GIT_DIR: root }, root), undefined);
    assert.is(userFromFiles({ ...env, HOME: "" }, root), undefined);
    // Inside a repository (its config, possibly broken, is read as well).
    mkdirSync(join(root, "repo", ".git"), { recursive: true });
    mkdirSync(join(root, "repo", "sub"));
    assert.is(userFromFiles(env, join(root, "repo", "sub")), undefined);
    // A git other than Debian's reads a system file not known here.
    const bin = join(root, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "git"), "#!/bin/sh\n");
    chmodSync(join(bin, "git"), 0o755);
    const { GIT_CONFIG_NOSYSTEM: _n, ...withSystem } = env;
    assert.is(
      userFromFiles({ ...withSystem, PATH: `${bin}:${process.env.PATH}` }, root),
      undefined,
    );
    // ~/.gitconfig a directory: git fails, so it must answer.
    const dirHome = join(root, "dirhome");
    mkdirSync(join(dirHome, ".gitconfig"), { recursive: true });
    assert.is(userFromFiles({ ...env, HOME: dirHome }, root), undefined);
  } finally {
    cleanup(root);
  }
});

/** A `git --version` stand-in that counts its calls. */
function counting(out = "git version 9.8.7\n", code = 0): { run: Runner; calls: () => number } {
  let n = 0;
  return {
    run: async () => {
      n++;
      return { code, out };
    },
    calls: () => n,
  };
}

test("gitVersion asks git once, then reads the record while the binary and the record stay the same", async () => {
  const root = tempDir("gitinfo");
  try {
    const bin = join(root, "bin");
    mkdirSync(bin);
    const git = join(bin, "git");
    writeFileSync(git, "#!/bin/sh\n");
    chmodSync(git, 0o755);
    const env = { PATH: `${bin}:/usr/bin:/bin` };
    const cache = join(root, "run", "git-version.json");
    const c = counting();
    const t0 = Date.now();
    for (let i = 0; i < 3; i++)
      assert.equal(await gitVersion(cache, 1000, c.run, env, t0 + i), {
        code: 0,
        out: "git version 9.8.7\n",
      });
    assert.is(c.calls(), 1);
    assert.is(JSON.parse(readFileSync(cache, "utf8")).path, git);
    // A new binary (here: a new mtime) is asked again.
    utimesSync(git, new Date(t0 - 60_000), new Date(t0 - 60_000));
    await gitVersion(cache, 1000, c.run, env, t0 + 10);
    assert.is(c.calls(), 2);
    await gitVersion(cache, 1000, c.run, env, t0 + 11);
    assert.is(c.calls(), 2);
    // An old record is not trusted, nor one from the future (a clock set back).
    await gitVersion(cache, 1000, c.run, env, t0 + 10 + GIT_VERSION_TTL_MS);
    assert.is(c.calls(), 3);
    await gitVersion(cache, 1000, c.run, env, t0);
    assert.is(c.calls(), 4);
    // Another git on PATH is another binary.
    const other = join(root, "other");
    mkdirSync(other);
    writeFileSync(join(other, "git"), "#!/bin/sh\n");
    chmodSync(join(other, "git"), 0o755);
    await gitVersion(cache, 1000, c.run, { PATH: `${other}:${env.PATH}` }, t0 + 1);
    assert.is(c.calls(), 5);
    // A corrupt record is ignored.
    writeFileSync(cache, "{");
    await gitVersion(cache, 1000, c.run, env, t0 + 2);
    assert.is(c.calls(), 6);
  } finally {
    cleanup(root);
  }
});

test("gitVersion records only a successful answer, and needs git on PATH to record one", async () => {
  const root = tempDir("gitinfo");
  try {
    const cache = join(root, "run", "git-version.json");
    const failing = counting("error\n", 1);
    assert.equal(await gitVersion(cache, 1000, failing.run, { PATH: process.env.PATH }), {
      code: 1,
      out: "error\n",
    });
    await gitVersion(cache, 1000, failing.run, { PATH: process.env.PATH });
    assert.is(failing.calls(), 2);
    const ok = counting();
    await gitVersion(cache, 1000, ok.run, { PATH: join(root, "nowhere") });
    await gitVersion(cache, 1000, ok.run, { PATH: join(root, "nowhere") });
    assert.is(ok.calls(), 2);
  } finally {
    cleanup(root);
  }
});

test.run();
