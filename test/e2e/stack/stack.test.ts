/** The compose stack, for real: up, all healthy, Prometheus scrapes the app and loaded the rules, down -v leaves nothing. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { $ } from "zx";
import { CA_BUNDLE } from "../../helpers/ca.js";
import { dockerTest } from "../../helpers/docker.js";
import { buildImage, DOCKER, freePort, health, IMAGE, RUN_ID, waitFor } from "../image/helpers.js";

const test = suite("e2e stack");
const project = `${RUN_ID}stack`;
const file = "docker/compose.yaml";
const dir = mkdtempSync(join(tmpdir(), "codex-e2e-stack-"));
const secret = join(dir, "npm_ca.pem");
writeFileSync(secret, readFileSync(CA_BUNDLE));

/** docker-compose 1.29 (Debian) when present, else the v2 plugin. */
const composeCmd =
  (await $({ quiet: true, nothrow: true })`docker-compose version --short`).exitCode === 0
    ? ["docker-compose"]
    : [DOCKER, "compose"];

let env: NodeJS.ProcessEnv = {};

/** Runs compose for this test's project with this test's env. */
function compose(args: string[], nothrow = false) {
  const [bin = "", ...pre] = composeCmd;
  return $({ quiet: true, nothrow, env })`${bin} ${pre} -f ${file} -p ${project} ${args}`;
}

/** Names of the project's containers, volumes and networks still on the daemon. */
async function leftovers(): Promise<string[]> {
  const label = `label=com.docker.compose.project=${project}`;
  const q = $({ quiet: true });
  const out = await Promise.all([
    q`${DOCKER} ps -a --filter ${label} --format ${"{{.Names}}"}`,
    q`${DOCKER} volume ls --filter ${label} --format ${"{{.Name}}"}`,
    q`${DOCKER} network ls --filter ${label} --format ${"{{.Name}}"}`,
  ]);
  return out.flatMap((r) => r.stdout.split("\n").filter(Boolean));
}

test.after(async () => {
  if (Object.keys(env).length) await compose(["down", "-v", "--remove-orphans", "-t", "5"], true);
  await $({ quiet: true, nothrow: true })`${DOCKER} rmi ${IMAGE}`;
  rmSync(dir, { recursive: true, force: true });
});

dockerTest(
  test,
  "stack comes up healthy, Prometheus scrapes the app and loads the rules, down -v leaves nothing",
  async () => {
    await buildImage(secret);
    const [mcp, metrics, prom, am] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    env = {
      ...process.env,
      CODEX_IMAGE: IMAGE,
      CODEX_MCP_HOST_PORT: String(mcp),
      CODEX_METRICS_HOST_PORT: String(metrics),
      PROMETHEUS_HOST_PORT: String(prom),
      ALERTMANAGER_HOST_PORT: String(am),
      CODEX_HEALTH_INTERVAL: "2s",
      MONITORING_HEALTH_INTERVAL: "2s",
    };
    await compose(["up", "-d"]);
    const ids = (await compose(["ps", "-q"])).stdout.split("\n").filter(Boolean);
    assert.is(
      ids.length,
      3,
      "app, prometheus and alertmanager (grafana is in the dashboards profile)",
    );
    await waitFor("every service healthy", 120_000, async () => {
      const states = await Promise.all(ids.map(health));
      if (states.some((s) => s === "unhealthy" || s === "exited"))
        throw new Error(`states: ${states.join(", ")}`);
      return states.every((s) => s === "healthy") ? true : undefined;
    });

    // Ports are published on loopback only.
    const ports = (await compose(["port", "prometheus", "9090"])).stdout.trim();
    assert.is(ports, `127.0.0.1:${prom}`);

    const api = `http://127.0.0.1:${prom}/api/v1`;
    await waitFor("Prometheus to report the app target up", 60_000, async () => {
      const body = (await (await fetch(`${api}/targets`)).json()) as {
        data: { activeTargets: { labels: { job: string }; health: string; lastError: string }[] };
      };
      const app = body.data.activeTargets.find((t) => t.labels.job === "codex-father");
      return app?.health === "up" ? app : undefined;
    });
    const rules = (await (await fetch(`${api}/rules`)).json()) as {
      data: { groups: { rules: { name: string; health: string }[] }[] };
    };
    const names = rules.data.groups.flatMap((g) => g.rules.map((r) => r.name));
    for (const alert of [
      "ServiceDown",
      "ServiceRestarted",
      "HighTaskFailureRate",
      "MCPHighErrorRate",
    ])
      assert.ok(names.includes(alert), `rule ${alert} loaded`);
    assert.ok(
      rules.data.groups.flatMap((g) => g.rules).every((r) => r.health !== "err"),
      "no rule in error",
    );
    const ams = (await (await fetch(`${api}/alertmanagers`)).json()) as {
      data: { activeAlertmanagers: unknown[] };
    };
    assert.is(ams.data.activeAlertmanagers.length, 1, "Prometheus found Alertmanager");

    await compose(["down", "-v", "-t", "10"]);
    assert.equal(await leftovers(), []);
  },
);

test.run();
