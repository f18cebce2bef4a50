import { test } from "uvu";
import * as assert from "uvu/assert";
import { isBindHost, parseEnv, requiredDirs } from "../../../scripts/lib/env.js";

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

test("integers: bounds are inclusive, anything Number() reads but a plain integer is not is refused", () => {
  const ok = parseEnv({
    ...base,
    CODEX_MAX_CONCURRENT: "10000",
    MCP_SERVER_PORT: "1",
    CODEX_METRICS_PORT: " 65535 ",
    CODEX_MIN_FREE_BYTES: "0",
  });
  if (!ok.ok) throw new Error(ok.errors.join("; "));
  assert.is(ok.env.maxConcurrent, 10_000);
  assert.is(ok.env.mcpPort, 1);
  assert.is(ok.env.metricsPort, 65_535);
  assert.is(ok.env.minFreeBytes, 0);
  for (const [name, bad] of [
    ["CODEX_MAX_CONCURRENT", "10001"],
    ["CODEX_MAX_CONCURRENT", "0"],
    ["MCP_SERVER_PORT", "65536"],
    ["CODEX_MIN_FREE_BYTES", "1e3"],
    ["CODEX_MIN_FREE_BYTES", "0x10"],
    ["CODEX_MIN_FREE_BYTES", "+5"],
    ["CODEX_MIN_FREE_BYTES", "5."],
    ["CODEX_MIN_FREE_BYTES", "9007199254740993"],
  ] as const) {
    const r = parseEnv({ ...base, [name]: bad });
    assert.is(r.ok, false, `${name}=${bad} accepted`);
    if (!r.ok)
      assert.equal(r.errors, [
        `${name}: must be an integer from ${name === "CODEX_MIN_FREE_BYTES" ? "0 to 9007199254740991" : name === "MCP_SERVER_PORT" ? "1 to 65535" : "1 to 10000"}, got "${bad}"`,
      ]);
  }
});

test("seconds: the maximum is inclusive, and only plain decimals are read", () => {
  const ok = parseEnv({ ...base, CODEX_STOP_TIMEOUT: "3600", HEALTH_CHECK_TIMEOUT: " 300 " });
  if (!ok.ok) throw new Error(ok.errors.join("; "));
  assert.is(ok.env.stopTimeoutMs, 3_600_000);
  assert.is(ok.env.checkTimeoutMs, 300_000);
  for (const bad of ["3601", "1e3", "0x10", "+5", "5.", "1.5s"]) {
    const r = parseEnv({ ...base, CODEX_STOP_TIMEOUT: bad });
    assert.is(r.ok, false, `CODEX_STOP_TIMEOUT=${bad} accepted`);
    if (!r.ok)
      assert.equal(r.errors, [
        `CODEX_STOP_TIMEOUT: must be a number of seconds from 0.001 to 3600, got "${bad}"`,
      ]);
  }
});

test("the MCP command is trimmed, blank is none, and distinct ports are fine with one", () => {
  const r = parseEnv({ ...base, CODEX_MCP_COMMAND: "  node mcp.js  " });
  if (!r.ok) throw new Error(r.errors.join("; "));
  assert.is(r.env.mcpCommand, "node mcp.js");
  const blank = parseEnv({ ...base, CODEX_MCP_COMMAND: "   " });
  if (!blank.ok) throw new Error(blank.errors.join("; "));
  assert.is(blank.env.mcpCommand, undefined);
});

test("CODEX_READY_DETAILS, CODEX_ENVIRONMENT and the git identity", () => {
  const d = parseEnv(base);
  if (!d.ok) throw new Error(d.errors.join("; "));
  assert.is(d.env.readyDetails, "loopback");
  assert.is(d.env.environment, "development");
  assert.is(d.defaults.CODEX_ENVIRONMENT, "development");
  assert.is(d.env.gitUserName, undefined);
  assert.is(d.env.gitUserEmail, undefined);
  const g = parseEnv({
    ...base,
    CODEX_READY_DETAILS: "all",
    CODEX_ENVIRONMENT: "production",
    GIT_USER_NAME: "Codex Bot",
    GIT_USER_EMAIL: "bot@example.com",
  });
  if (!g.ok) throw new Error(g.errors.join("; "));
  assert.is(g.env.readyDetails, "all");
  assert.is(g.env.environment, "production");
  assert.is(g.env.gitUserName, "Codex Bot");
  assert.is(g.env.gitUserEmail, "bot@example.com");
  const empty = parseEnv({ ...base, GIT_USER_NAME: "", GIT_USER_EMAIL: "" });
  if (!empty.ok) throw new Error(empty.errors.join("; "));
  assert.is(empty.env.gitUserName, undefined);
  assert.is(empty.env.gitUserEmail, undefined);
  const bad = parseEnv({ ...base, CODEX_READY_DETAILS: "some" });
  assert.is(bad.ok, false);
  if (!bad.ok)
    assert.equal(bad.errors, [
      'CODEX_READY_DETAILS: must be one of loopback, all, none, got "some"',
    ]);
});

test("isBindHost: every IPv4 octet form, single-letter labels, and the 253-character limit", () => {
  for (const host of [
    "255.255.255.255",
    "250.249.200.199",
    "249.249.249.249",
    "199.100.10.9",
    "99.99.99.99",
    "9.9.9.9",
    "10.0.0.10",
    "1.2.3.250",
    "1.2.3.249",
    "1.2.3.199",
    "1.2.3.99",
    "a",
    "x.y",
    "1host.example",
    `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`,
  ])
    assert.ok(isBindHost(host), host);
  for (const host of [
    "256.1.1.1",
    "1.2.3.256",
    "1.2.3",
    "1.2.3.",
    `${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(62)}`,
    `${"a".repeat(64)}.example`,
  ])
    assert.not.ok(isBindHost(host), host);
});

test.run();
