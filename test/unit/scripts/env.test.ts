import { test } from "uvu";
import * as assert from "uvu/assert";
import { parseEnv, requiredDirs } from "../../../scripts/lib/env.js";

const base = { CODEX_HOME: "/x/home", CODEX_SESSIONS_ROOT: "/x/home/sessions" };

test("defaults fill every optional variable and are reported for export", () => {
  const r = parseEnv(base);
  if (!r.ok) throw new Error(r.errors.join("; "));
  assert.is(r.env.logLevel, "info");
  assert.is(r.env.maxConcurrent, 10);
  assert.is(r.env.mcpPort, 3000);
  assert.is(r.env.metricsPort, 9090);
  assert.is(r.env.metricsHost, "0.0.0.0");
  assert.is(r.env.stopTimeoutMs, 10_000);
  assert.is(r.env.checkTimeoutMs, 5000);
  assert.is(r.env.minFreeBytes, 1024 ** 3);
  assert.is(r.env.mcpLog, "/app/logs/mcp-server.log");
  assert.is(r.env.stateFile, "/x/home/run/services.json");
  assert.is(r.defaults.CODEX_LOG_LEVEL, "info");
  assert.is(r.defaults.CODEX_METRICS_PORT, "9090");
  assert.equal(requiredDirs(r.env), [
    "/x/home",
    "/x/home/sessions",
    "/x/home/git-state",
    "/x/home/queue",
    "/app/data",
    "/app/logs",
  ]);
});

test("given values win over defaults and are not re-exported", () => {
  const r = parseEnv({
    ...base,
    CODEX_LOG_LEVEL: "debug",
    CODEX_METRICS_PORT: "9100",
    CODEX_LOG_DIR: "/l",
    CODEX_STOP_TIMEOUT: "0.5",
  });
  if (!r.ok) throw new Error(r.errors.join("; "));
  assert.is(r.env.logLevel, "debug");
  assert.is(r.env.metricsPort, 9100);
  assert.is(r.env.mcpLog, "/l/mcp-server.log");
  assert.is(r.env.stopTimeoutMs, 500);
  assert.is(r.defaults.CODEX_METRICS_PORT, undefined);
});

test("every problem is listed at once, each naming its variable", () => {
  const r = parseEnv({
    CODEX_LOG_LEVEL: "verbose",
    CODEX_MAX_CONCURRENT: "ten",
    MCP_SERVER_PORT: "70000",
    CODEX_METRICS_PORT: "-1",
    CODEX_STOP_TIMEOUT: "0",
    HEALTH_CHECK_TIMEOUT: "abc",
    CODEX_MIN_FREE_BYTES: "1.5",
  });
  assert.is(r.ok, false);
  if (r.ok) return;
  const vars = r.errors.map((e) => e.split(":")[0]);
  assert.equal(vars.sort(), [
    "CODEX_HOME",
    "CODEX_LOG_LEVEL",
    "CODEX_MAX_CONCURRENT",
    "CODEX_METRICS_PORT",
    "CODEX_MIN_FREE_BYTES",
    "CODEX_SESSIONS_ROOT",
    "CODEX_STOP_TIMEOUT",
    "HEALTH_CHECK_TIMEOUT",
    "MCP_SERVER_PORT",
  ]);
  assert.ok(
    r.errors.some((e) => e.includes('got "verbose"') && e.includes("debug, info, warn, error")),
  );
  assert.ok(r.errors.some((e) => e.startsWith("MCP_SERVER_PORT") && e.includes("70000")));
});

test("an empty required variable is as missing as an unset one", () => {
  const r = parseEnv({ CODEX_HOME: "  ", CODEX_SESSIONS_ROOT: "/s" });
  assert.is(r.ok, false);
  if (!r.ok) assert.equal(r.errors, ["CODEX_HOME: required but not set"]);
});

test("the exporter and the MCP server cannot share a port when both run", () => {
  const clash = { ...base, MCP_SERVER_PORT: "9090", CODEX_METRICS_PORT: "9090" };
  assert.is(parseEnv(clash).ok, true);
  const r = parseEnv({ ...clash, CODEX_MCP_COMMAND: "node mcp.js" });
  assert.is(r.ok, false);
  if (!r.ok)
    assert.match(r.errors[0] ?? "", /CODEX_METRICS_PORT: must differ from MCP_SERVER_PORT/);
});

test("relative paths are made absolute", () => {
  const r = parseEnv({ CODEX_HOME: "rel/home", CODEX_SESSIONS_ROOT: "rel/s" });
  if (!r.ok) throw new Error(r.errors.join("; "));
  assert.is(r.env.home, `${process.cwd()}/rel/home`);
});

test("timeouts below 1 ms are rejected, naming the variable (they would round to 0 ms)", () => {
  const r = parseEnv({ ...base, HEALTH_CHECK_TIMEOUT: "0.0001", CODEX_STOP_TIMEOUT: "0.0004" });
  assert.is(r.ok, false);
  if (r.ok) return;
  assert.equal(r.errors.map((e) => e.split(":")[0]).sort(), [
    "CODEX_STOP_TIMEOUT",
    "HEALTH_CHECK_TIMEOUT",
  ]);
  assert.ok(
    r.errors.every((e) => e.includes("0.001")),
    r.errors.join("; "),
  );
  const ok = parseEnv({ ...base, HEALTH_CHECK_TIMEOUT: "0.001", CODEX_STOP_TIMEOUT: "0.0015" });
  if (!ok.ok) throw new Error(ok.errors.join("; "));
  assert.is(ok.env.checkTimeoutMs, 1);
  assert.is(ok.env.stopTimeoutMs, 2);
});

test("CODEX_METRICS_HOST must be an IP address or a host name", () => {
  for (const bad of ["   ", "not a host", "-x", "a..b", "host:9090", "[::1]", "1.2.3.4.5", "a/b"]) {
    const r = parseEnv({ ...base, CODEX_METRICS_HOST: bad });
    assert.is(r.ok, false, `accepted ${JSON.stringify(bad)}`);
    if (!r.ok) {
      assert.is(r.errors.length, 1);
      assert.match(r.errors[0] ?? "", /^CODEX_METRICS_HOST: must be an IP address or a host name/);
      assert.ok(r.errors[0]?.includes(JSON.stringify(bad)), r.errors[0]);
    }
  }
  for (const [given, used] of [
    ["0.0.0.0", "0.0.0.0"],
    ["127.0.0.1", "127.0.0.1"],
    ["::", "::"],
    ["::1", "::1"],
    ["localhost", "localhost"],
    ["metrics.internal", "metrics.internal"],
    ["codex_app-1", "codex_app-1"],
    [" 127.0.0.1 ", "127.0.0.1"],
    ["", "0.0.0.0"],
  ]) {
    const r = parseEnv({ ...base, CODEX_METRICS_HOST: given });
    if (!r.ok) throw new Error(`${JSON.stringify(given)}: ${r.errors.join("; ")}`);
    assert.is(r.env.metricsHost, used);
  }
});

test.run();
