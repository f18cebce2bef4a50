import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { pidAlive } from "../../../scripts/lib/checks.js";
import { readState, type ServicesState } from "../../../scripts/lib/state.js";
import {
  cleanup,
  freePort,
  get,
  type Started,
  sample,
  startScript,
  tempDir,
  waitFor,
} from "../../helpers/proc.js";
import { appendMcpLines, mcpTotals, storeEnv } from "../../helpers/store.js";

/** An MCP stand-in in sh that writes every signal it traps to a marker file and keeps running on HUP. */
const MCP_SH = `trap 'echo HUP >> "$1"' HUP
trap 'echo TERM >> "$1"; exit 0' TERM
echo ready >> "$1"
while :; do sleep 0.1; done
`;

/** Entrypoints started here, with their roots: killed with their services if a test fails half-way. */
const live: { s: Started; root: string; stateFile: string }[] = [];

test.after.each(() => {
  for (const { s, root, stateFile } of live.splice(0)) {
    const st = readState(stateFile);
    if (st && !(st instanceof Error))
      for (const svc of st.services) {
        try {
          process.kill(-svc.pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    s.proc.kill("SIGKILL");
    cleanup(root);
  }
});

/** Lines of the marker file. */
function marks(file: string): string[] {
  return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n") : [];
}

test("SIGHUP to `entrypoint start`: the MCP server gets it, the exporter re-reads its log, both keep running", async () => {
  const root = tempDir("signals");
  const env: Record<string, string> = {
    ...storeEnv(root),
    HOME: join(root, "user"),
    CODEX_METRICS_PORT: String(await freePort()),
    CODEX_METRICS_HOST: "127.0.0.1",
    MCP_SERVER_PORT: String(await freePort()),
    CODEX_MIN_FREE_BYTES: "1024",
    GIT_USER_NAME: "Codex Bot",
    GIT_USER_EMAIL: "bot@example.com",
  };
  mkdirSync(env.HOME as string);
  const marker = join(root, "mcp-signals");
  writeFileSync(join(root, "mcp.sh"), MCP_SH);
  env.CODEX_MCP_COMMAND = `sh ${join(root, "mcp.sh")} ${marker}`;
  const stateFile = join(env.CODEX_HOME as string, "run", "services.json");
  const s = startScript("entrypoint", ["start"], env);
  live.push({ s, root, stateFile });
  const state = await waitFor(() => {
    const st = readState(stateFile);
    return st && !(st instanceof Error) && st.services.length === 2 ? st : undefined;
  }, `services.json (output: ${s.out()})`);
  const url = `http://127.0.0.1:${env.CODEX_METRICS_PORT}`;
  await waitFor(async () => (await get(`${url}/health`)).status === 200, "exporter up");
  await waitFor(() => marks(marker).includes("ready"), "MCP stand-in ready");
  let exited = false;
  void s.exit.then(() => {
    exited = true;
  });

  appendMcpLines(env.CODEX_MCP_LOG as string, 0, 100);
  for (const round of [1, 2]) {
    process.kill(s.proc.pid as number, "SIGHUP");
    await waitFor(
      () => marks(marker).filter((m) => m === "HUP").length === round,
      `HUP ${round} to reach the MCP server (output: ${s.out()})`,
    );
  }
  // Given time to fall over, as before the fix (metrics exited with 129, the MCP server got TERM): nothing moves.
  await new Promise((r) => setTimeout(r, 1500));
  assert.not.ok(exited, s.out());
  assert.not.match(s.out(), /exited with/);
  await waitFor(
    () => s.out().split('"message":"SIGHUP received').length - 1 === 2,
    `both HUPs logged by the exporter (output: ${s.out()})`,
  );
  for (const svc of (state as ServicesState).services)
    assert.ok(pidAlive(svc.pid), `${svc.name} gone`);
  assert.not.ok(marks(marker).includes("TERM"), "the MCP server was stopped");
  const m = await get(`${url}/metrics`);
  assert.is(sample(m.body, "codex_mcp_requests_total"), mcpTotals(0, 100).requests);

  // Still a normal stop afterwards.
  s.proc.kill("SIGTERM");
  const { code } = await s.exit;
  assert.is(code, 143, s.out());
  assert.ok(marks(marker).includes("TERM"));
});

test.run();
