import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { archOf, canRun, emulationHint, nativePlatform } from "../../../../../ci/lib/platform.js";
import {
  imageTags,
  labelArgs,
  repositoryUrl,
  sourceFacts,
  tagSafe,
} from "../../../../../ci/stages/build/metadata.js";
import {
  insecureRegistry,
  loopbackRegistry,
  pushTarget,
} from "../../../../../ci/stages/build/registry.js";

/** A throwaway git repo with one commit at a fixed date on branch feature/x. */
function repo(): string {
  const dir = mkdtempSync(join(tmpdir(), "codex-build-meta-"));
  writeFileSync(join(dir, "package.json"), JSON.stringify({ version: "1.2.3" }));
  const git = (...a: string[]) =>
    execFileSync("git", ["-C", dir, ...a], {
      env: {
        ...process.env,
        GIT_COMMITTER_DATE: "2026-01-02T03:04:05Z",
        GIT_AUTHOR_DATE: "2026-01-02T03:04:05Z",
      },
    });
  git("init", "-q", "-b", "feature/x");
  git("add", ".");
  git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "init");
  return dir;
}

test("facts come from package.json and git; created is the commit time, so unchanged rebuilds hit the cache", async () => {
  const dir = repo();
  try {
    const f = await sourceFacts(dir, {});
    assert.is(f.version, "1.2.3");
    assert.match(f.revision, /^[0-9a-f]{40}$/);
    assert.is(f.branch, "feature/x");
    assert.is(f.created, "2026-01-02T03:04:05Z");
    assert.equal(imageTags(["version", "sha", "branch"], f), [
      "1.2.3",
      `sha-${f.revision.slice(0, 7)}`,
      "feature-x",
    ]);
    assert.equal(labelArgs(f), {
      OCI_VERSION: "1.2.3",
      OCI_REVISION: f.revision,
      OCI_CREATED: "2026-01-02T03:04:05Z",
    });
    const epoch = await sourceFacts(dir, { sourceDateEpoch: "0" });
    assert.is(epoch.created, "1970-01-01T00:00:00Z");
    const gh = await sourceFacts(dir, {
      refType: "branch",
      refName: "main",
      repository: "acme/cf",
    });
    assert.is(gh.branch, "main");
    assert.is(gh.source, "https://github.com/acme/cf");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a detached HEAD gets no branch tag; bad SOURCE_DATE_EPOCH is an error", async () => {
  const dir = repo();
  try {
    execFileSync("git", ["-C", dir, "checkout", "-q", "--detach"]);
    const f = await sourceFacts(dir, {});
    assert.is(f.branch, undefined);
    assert.equal(imageTags(["branch", "version"], f), ["1.2.3"]);
    try {
      await sourceFacts(dir, { sourceDateEpoch: "yesterday" });
      assert.unreachable();
    } catch (e) {
      assert.match((e as Error).message, /SOURCE_DATE_EPOCH: "yesterday" is not a Unix time/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("tags are made safe for Docker", () => {
  assert.is(tagSafe("feature/Add thing!"), "feature-Add-thing-");
  assert.is(tagSafe("-x"), "x");
  assert.is(tagSafe("a".repeat(200)).length, 128);
});

test("emulation: native always runs; a missing binfmt handler gives a hint naming the platform and what to install", () => {
  assert.ok(canRun(nativePlatform()));
  const dir = mkdtempSync(join(tmpdir(), "binfmt-"));
  try {
    assert.is(
      canRun("linux/riscv64", dir),
      undefined,
      "binfmt_misc not visible: only the build can tell",
    );
    writeFileSync(join(dir, "status"), "enabled\n");
    assert.is(canRun("linux/riscv64", dir), false);
    writeFileSync(
      join(dir, "qemu-riscv64"),
      "disabled\ninterpreter /usr/bin/qemu-riscv64-static\n",
    );
    assert.not.ok(canRun("linux/riscv64", dir));
    writeFileSync(join(dir, "qemu-riscv64"), "enabled\ninterpreter /usr/bin/qemu-riscv64-static\n");
    assert.ok(canRun("linux/riscv64", dir));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const hint = emulationHint("linux/arm64");
  assert.match(hint, "cannot build linux/arm64");
  assert.match(hint, "qemu-user-static");
  assert.match(hint, "update-binfmts --enable qemu-aarch64");
  assert.is(archOf("linux/arm64/v8"), "arm64");
});

test("push target comes from the environment, password as a secret", () => {
  assert.throws(() => pushTarget({}), /build --push: say where to push: --registry/);
  assert.throws(
    () => pushTarget({ repository: "http://x" }),
    /CODEX_REGISTRY: "http:\/\/x" is not host/,
  );
  assert.equal(pushTarget({ repository: "127.0.0.1:5000/" }), { repository: "127.0.0.1:5000" });
  const t = pushTarget({ repository: "ghcr.io/acme", username: "bot", password: "s3cret" });
  assert.equal(t.auth, {
    address: "ghcr.io",
    username: "bot",
    password: { name: "registry_password", value: "s3cret" },
  });
  assert.throws(
    () => pushTarget({ repository: "r", username: "bot" }),
    /CODEX_REGISTRY_PASSWORD or CODEX_REGISTRY_PASSWORD_FILE/,
  );
});

test("the registry: --registry, else build.registry, else CODEX_REGISTRY; lowercase; insecure only when loopback or declared", () => {
  const env = { repository: "env.example/from-env" };
  assert.is(pushTarget(env).repository, "env.example/from-env");
  assert.is(pushTarget(env, { config: "ghcr.io/Acme" }).repository, "ghcr.io/acme");
  assert.is(
    pushTarget(env, { flag: "127.0.0.1:5000/x", config: "ghcr.io/acme" }).repository,
    "127.0.0.1:5000/x",
  );
  assert.throws(
    () => pushTarget({}, { config: "" }),
    /--registry ghcr\.io\/<owner>, build\.registry/,
  );
  assert.throws(() => pushTarget({}, { flag: "https://ghcr.io/acme" }), /^--registry: "/);
  assert.throws(() => pushTarget({}, { config: "ghcr.io/a b" }), /^build\.registry: "/);
  assert.ok(insecureRegistry("127.0.0.1:5000", []));
  assert.ok(insecureRegistry("registry.lan:5000", ["registry.lan:5000"]));
  assert.not.ok(insecureRegistry("registry.lan:5000", []));
  assert.not.ok(insecureRegistry("ghcr.io", ["registry.lan:5000"]));
});

test("credentials in CODEX_REGISTRY never reach the error message", () => {
  for (const value of [
    "https://bob:s3cret@ghcr.io/acme",
    "bob:s3cret@ghcr.io/acme",
    "tok3n@ghcr.io",
  ]) {
    try {
      pushTarget({ repository: value });
      assert.unreachable(`${value} was accepted`);
    } catch (e) {
      const m = (e as Error).message;
      assert.match(m, /CODEX_REGISTRY: ".*\*\*\*@ghcr\.io.*" is not host/);
      assert.not.match(m, /s3cret|tok3n|bob/);
    }
  }
});

test("only a loopback registry is pushed to without TLS", () => {
  for (const a of ["127.0.0.1:5000", "localhost:5000", "127.1.2.3", "[::1]:5000"])
    assert.ok(loopbackRegistry(a), a);
  for (const a of ["ghcr.io", "10.0.0.5:5000", "registry.local:5000", "127.0.0.1.evil.com:5000"])
    assert.not.ok(loopbackRegistry(a), a);
});

test("the image's source label is a repository URL, never a local checkout path", () => {
  assert.is(repositoryUrl("https://github.com/acme/cf.git"), "https://github.com/acme/cf");
  assert.is(
    repositoryUrl("https://x-access-token:ghs_abc@github.com/acme/cf"),
    "https://github.com/acme/cf",
  );
  assert.is(repositoryUrl("git@github.com:acme/cf.git"), "https://github.com/acme/cf");
  assert.is(
    repositoryUrl("ssh://git@gitlab.example.com/group/cf.git"),
    "https://gitlab.example.com/group/cf",
  );
  assert.is(repositoryUrl("/work/main"), undefined);
  assert.is(repositoryUrl("../main/.git"), undefined);
  assert.is(repositoryUrl("file:///work/main"), undefined);
});

test.run();
