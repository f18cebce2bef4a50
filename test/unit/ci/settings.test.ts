import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readSettings, SettingsError } from "../../../ci/settings.js";

const dir = mkdtempSync(join(tmpdir(), "settings-"));
const pem = join(dir, "ca.pem");
writeFileSync(pem, "-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n");

/** The message readSettings rejects with, or "" when it accepts. */
async function refusal(env: NodeJS.ProcessEnv, caFile?: string): Promise<string> {
  try {
    await readSettings(env, caFile);
    return "";
  } catch (e) {
    assert.instance(e, SettingsError);
    return (e as Error).message;
  }
}

test("the CA bundle: --ca-file wins over NODE_EXTRA_CA_CERTS; a directory or a missing file is refused, named", async () => {
  assert.is((await readSettings({ NODE_EXTRA_CA_CERTS: pem })).stages.caFile, pem);
  assert.is((await readSettings({ NODE_EXTRA_CA_CERTS: "/nope" }, pem)).stages.caFile, pem);
  assert.match(await refusal({}, dir), `--ca-file: "${dir}" is not a file`);
  assert.match(
    await refusal({ NODE_EXTRA_CA_CERTS: dir }),
    `NODE_EXTRA_CA_CERTS: "${dir}" is not a file`,
  );
  assert.match(
    await refusal({}, join(dir, "missing.pem")),
    /--ca-file: cannot read CA bundle ".*missing\.pem" \(ENOENT\)/,
  );
  assert.is((await readSettings({})).stages.caFile, undefined);
});

test("CODEX_CI_RUN_ID names the run only when it is a plain name", async () => {
  assert.is((await readSettings({ CODEX_CI_RUN_ID: "gh-1234-1" })).runId, "gh-1234-1");
  assert.is((await readSettings({})).runId, undefined);
  for (const bad of ["", "Run", "a b", "x;rm", "-x", "a".repeat(41)])
    assert.match(
      await refusal({ CODEX_CI_RUN_ID: bad }),
      /CODEX_CI_RUN_ID: ".*" is not 1 to 40/,
      bad,
    );
});

test("what stages and engines are told comes from the environment given, and only from it", async () => {
  const s = await readSettings({
    GITHUB_REPOSITORY: "acme/cf",
    GITHUB_TOKEN: "t0k",
    COMPOSE_PROJECT_NAME: "p",
    DOCKER_HOST: "tcp://10.0.0.2:2375",
    DAGGER_SESSION_PORT: "1234",
    CODEX_CI_DOCKER: "/opt/docker",
  });
  assert.is(s.stages.ci.repository, "acme/cf");
  assert.equal(s.stages.stackSecrets, { GITHUB_TOKEN: "t0k" });
  assert.is(s.stages.composeProject, "p");
  assert.is(s.engine.dockerHost, "tcp://10.0.0.2:2375");
  assert.is(s.engine.dagger.sessionPort, "1234");
  assert.is(s.engine.dockerBin, "/opt/docker");
  assert.equal((await readSettings({})).stages.stackSecrets, {});
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
