/**
 * Prometheus exporter for the Codex Father session store.
 * Serves /metrics (gathered at scrape time), /health (liveness) and /ready (the healthcheck's checks, cached;
 * their messages only for the clients CODEX_READY_DETAILS names). SIGHUP re-reads the MCP log path and relists
 * the sessions root; SIGTERM and SIGINT stop it.
 */
import { readFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { type HealthReport, runChecks } from "./lib/checks.js";
import { createCollector } from "./lib/collector.js";
import { parseEnv, type ReadyDetails } from "./lib/env.js";
import { createLogger } from "./lib/log.js";

/** How long a /ready answer is reused: the checks spawn git and probe ports, too much for every probe. */
const READY_CACHE_MS = 5000;

const parsed = parseEnv(process.env);
if (!parsed.ok) {
  for (const e of parsed.errors) console.error(`metrics: ${e}`);
  process.exit(78);
}
const env = parsed.env;
const log = createLogger("metrics", { level: env.logLevel });
const collector = createCollector(env, findVersion(), log);

let ready: { at: number; report: Promise<HealthReport> } | undefined;
/** The healthcheck's report, recomputed at most every READY_CACHE_MS. */
function readiness(): Promise<HealthReport> {
  if (!ready || Date.now() - ready.at > READY_CACHE_MS)
    ready = { at: Date.now(), report: runChecks(env) };
  return ready.report;
}

const server = createServer(async (req, res) => {
  const path = (req.url ?? "/").split("?")[0];
  if (req.method !== "GET" && req.method !== "HEAD") {
    res.writeHead(405, { Allow: "GET, HEAD" }).end();
    return;
  }
  try {
    if (path === "/metrics") {
      const body = await collector.registry.metrics();
      res.writeHead(200, { "Content-Type": collector.registry.contentType }).end(body);
    } else if (path === "/health") {
      res.writeHead(200, { "Content-Type": "text/plain" }).end("ok\n");
    } else if (path === "/ready") {
      const report = await readiness();
      const body = showDetails(env.readyDetails, req) ? report : withoutDetails(report);
      res
        .writeHead(report.healthy ? 200 : 503, { "Content-Type": "application/json" })
        .end(`${JSON.stringify(body)}\n`);
    } else {
      res
        .writeHead(404, { "Content-Type": "text/plain" })
        .end("not found: try /metrics, /health, /ready\n");
    }
  } catch (e) {
    log.error("request failed", { path, error: String(e) });
    if (!res.headersSent) res.writeHead(500);
    res.end();
  }
});

server.on("error", (e: NodeJS.ErrnoException) => {
  log.error(`cannot listen on ${env.metricsHost}:${env.metricsPort}: ${e.code ?? e.message}`);
  process.exit(1);
});
server.listen(env.metricsPort, env.metricsHost, () => {
  log.info(`listening on ${env.metricsHost}:${env.metricsPort}`, {
    sessions: env.sessionsRoot,
    mcpLog: env.mcpLog,
  });
});

/** Stops serving at once: scrapes are idempotent, Prometheus retries. */
function stop(signal: NodeJS.Signals): void {
  log.info(`${signal} received, stopping`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
}
process.once("SIGTERM", stop);
process.once("SIGINT", stop);
// The entrypoint passes SIGHUP on to its services, as logrotate's postrotate does to a log reader: it must not
// stop us (Node's default). It re-reads the MCP log path now, so a rotated-away file is finished and let go of.
process.on("SIGHUP", () => {
  log.info("SIGHUP received: re-reading the MCP log path and relisting the sessions root");
  collector.reopen().catch((e: unknown) => log.error(`SIGHUP refresh failed: ${e}`));
});

/**
 * Whether a /ready client may see the checks' messages: absolute paths, PIDs, free space and the git version
 * help an operator and an attacker alike, and the exporter listens on 0.0.0.0 without authentication.
 */
function showDetails(who: ReadyDetails, req: IncomingMessage): boolean {
  if (who === "all") return true;
  return who === "loopback" && isLoopback(req.socket.remoteAddress);
}

/** True for 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6. */
function isLoopback(address: string | undefined): boolean {
  const a = address?.startsWith("::ffff:") ? address.slice("::ffff:".length) : address;
  return a === "::1" || !!a?.startsWith("127.");
}

/** The report with the status of each check and nothing else. */
function withoutDetails(report: HealthReport) {
  return {
    healthy: report.healthy,
    checks: report.checks.map((c) => ({ name: c.name, status: c.status })),
  };
}

/** Version from the nearest package.json above this file (dist/scripts or scripts), else "unknown". */
function findVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    try {
      const v = (
        JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version?: unknown }
      ).version;
      if (typeof v === "string") return v;
    } catch {
      // Not here: look one level up.
    }
    dir = dirname(dir);
  }
  return "unknown";
}
