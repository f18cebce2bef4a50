/** The compose check's CLI, and the real compose file against Debian's docker-compose 1.29. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { main } from "../../../../../ci/stages/lint/compose-file.js";

const test = suite("compose check (CLI)");
const dir = mkdtempSync(join(tmpdir(), "codex-compose-it-"));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the CLI in a process of its own with extra env: the process boundary (exit code, stderr, env). */
function spawned(args: string[], env: Record<string, string> = {}) {
  return spawnSync(
    process.execPath,
    ["--import", "tsx", "ci/stages/lint/compose-file.ts", ...args],
    {
      encoding: "utf8",
      env: { ...process.env, CODEX_BIND_ADDRESS: "", ...env },
    },
  );
}

/** Runs the CLI's main() in this process with the same env; the other cases, to save a process start each. */
async function cli(args: string[], env: Record<string, string> = {}) {
  let stdout = "";
  let stderr = "";
  const status = await main(
    args,
    {
      out: (line) => {
        stdout += `${line}\n`;
      },
      err: (line) => {
        stderr += `${line}\n`;
      },
    },
    { ...process.env, CODEX_BIND_ADDRESS: "", ...env },
  );
  return { status, stdout, stderr };
}

test("docker/compose.yaml passes", async () => {
  const r = await cli([]);
  assert.is(r.status, 0, r.stderr);
});

test("binding the stack to 0.0.0.0 through the env is caught, unless --allow-public", async () => {
  const r = spawned([], { CODEX_BIND_ADDRESS: "0.0.0.0" });
  assert.is(r.status, 1);
  assert.match(
    r.stderr,
    /docker\/compose\.yaml:\d+: service app: port "0\.0\.0\.0:3000:3000" binds to all interfaces/,
  );
  assert.is((await cli(["--allow-public"], { CODEX_BIND_ADDRESS: "0.0.0.0" })).status, 0);
});

test("a service without healthcheck or reason fails with file and line; a missing file exits 2", async () => {
  const bad = join(dir, "bad.yaml");
  writeFileSync(
    bad,
    "services:\n  ok:\n    image: a\n    healthcheck: { test: [CMD, 'true'] }\n  worker:\n    image: b\n",
  );
  const r = await cli([bad]);
  assert.is(r.status, 1);
  assert.match(r.stderr, `${bad}:5: service worker: no healthcheck`);
  assert.is((await cli([join(dir, "none.yaml")])).status, 2);
});

test("docker-compose 1.29 accepts the file, with and without the dashboards profile", () => {
  for (const extra of [[], ["--profile", "dashboards"]]) {
    const r = spawnSync(
      "docker-compose",
      ["-f", "docker/compose.yaml", "-p", "codexcheck", ...extra, "config", "-q"],
      {
        encoding: "utf8",
      },
    );
    assert.is(
      r.status,
      0,
      r.error ? `docker-compose: ${r.error.message} (apt-get install docker-compose)` : r.stderr,
    );
  }
});

test.run();
