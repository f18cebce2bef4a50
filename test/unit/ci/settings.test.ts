import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readSettings } from "../../../ci/settings.js";

test("the stack's variables are read once, set-but-empty included; secrets go to stackSecrets only", async () => {
  const s = await readSettings({
    PATH: process.env.PATH,
    CODEX_BIND_ADDRESS: "0.0.0.0",
    PROMETHEUS_HOST_PORT: "",
    UNRELATED: "x",
    GITHUB_TOKEN: "ghp_secret",
    ALERT_SLACK_WEBHOOK_URL: "https://hooks.example/secret",
  });
  assert.equal(s.stages.stackEnv, { CODEX_BIND_ADDRESS: "0.0.0.0", PROMETHEUS_HOST_PORT: "" });
  assert.equal(s.stages.stackSecrets, {
    GITHUB_TOKEN: "ghp_secret",
    ALERT_SLACK_WEBHOOK_URL: "https://hooks.example/secret",
  });
});

test("ALERT_SLACK_WEBHOOK_URL_FILE is read on the caller's side; an unreadable one names the variable and path, not a value", async () => {
  const dir = mkdtempSync(join(tmpdir(), "settings-"));
  try {
    const file = join(dir, "hook");
    writeFileSync(file, "https://hooks.example/from-file\n");
    const s = await readSettings({ PATH: process.env.PATH, ALERT_SLACK_WEBHOOK_URL_FILE: file });
    assert.is(s.stages.stackSecrets.ALERT_SLACK_WEBHOOK_URL, "https://hooks.example/from-file");
    const both = await readSettings({
      PATH: process.env.PATH,
      ALERT_SLACK_WEBHOOK_URL: "https://hooks.example/direct",
      ALERT_SLACK_WEBHOOK_URL_FILE: file,
    });
    assert.is(both.stages.stackSecrets.ALERT_SLACK_WEBHOOK_URL, "https://hooks.example/direct");
    try {
      await readSettings({ PATH: process.env.PATH, ALERT_SLACK_WEBHOOK_URL_FILE: join(dir, "no") });
      assert.unreachable("should have thrown");
    } catch (e) {
      assert.is((e as Error).name, "SettingsError");
      assert.match(
        (e as Error).message,
        `ALERT_SLACK_WEBHOOK_URL_FILE: cannot read "${join(dir, "no")}" (ENOENT)`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("DOCKER_CONTEXT is kept for compose v1 only while DOCKER_HOST is unset (DOCKER_HOST wins, as in the docker CLI)", async () => {
  const ctx = await readSettings({ PATH: process.env.PATH, DOCKER_CONTEXT: "app-host" });
  assert.is(ctx.stages.dockerContext, "app-host");
  const both = await readSettings({
    PATH: process.env.PATH,
    DOCKER_CONTEXT: "app-host",
    DOCKER_HOST: "tcp://10.0.0.5:2375",
  });
  assert.is(both.stages.dockerContext, undefined);
});

test.run();
