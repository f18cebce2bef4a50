/**
 * The compose stack, for real: up, all healthy, Prometheus scrapes the app and loaded the rules, down -v leaves
 * nothing. Remote-daemon-safe: config arrives in images compose builds on the daemon, no service bind-mounts
 * anything, ports are picked by the daemon and dialled at its host (DOCKER_HOST).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { $ } from "zx";
import { CA_BUNDLE } from "../../helpers/ca.js";
import { daemonAddress, dockerTest } from "../../helpers/docker.js";
import { buildImage, DOCKER, health, healthLog, IMAGE, RUN_ID, waitFor } from "../image/helpers.js";

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
/** A webhook URL on a port that refuses, with a marker that must never show outside Alertmanager's file. */
const MARKER = `e2e-webhook-${randomBytes(6).toString("hex")}`;
const WEBHOOK = `http://127.0.0.1:7/services/${MARKER}`;

/** Runs compose for this test's project with this test's env. */
function compose(args: string[], nothrow = false) {
  const [bin = "", ...pre] = composeCmd;
  return $({ quiet: true, nothrow, env })`${bin} ${pre} -f ${file} -p ${project} ${args}`;
}

/** Names of the project's containers, volumes, networks and config images still on the daemon. */
async function leftovers(): Promise<string[]> {
  const label = `label=com.docker.compose.project=${project}`;
  const q = $({ quiet: true });
  const out = await Promise.all([
    q`${DOCKER} ps -a --filter ${label} --format ${"{{.Names}}"}`,
    q`${DOCKER} volume ls --filter ${label} --format ${"{{.Name}}"}`,
    q`${DOCKER} network ls --filter ${label} --format ${"{{.Name}}"}`,
    // compose names what it builds <project>_<service> (v1) or <project>-<service> (v2)
    q`${DOCKER} images --format ${"{{.Repository}}"} ${`${project}*`}`,
  ]);
  return out.flatMap((r) => r.stdout.split("\n").filter(Boolean));
}

/** The container of one service of the project. */
async function container(service: string): Promise<string> {
  const id = (await compose(["ps", "-q", service])).stdout.trim();
  if (!id) throw new Error(`no ${service} container`);
  return id;
}

/** Runs a command in a container and returns its stdout. */
async function inside(id: string, ...cmd: string[]): Promise<string> {
  return (await $({ quiet: true })`${DOCKER} exec ${id} ${cmd}`).stdout;
}

test.after(async () => {
  if (Object.keys(env).length)
    await compose(["down", "-v", "--remove-orphans", "--rmi", "local", "-t", "5"], true);
  // IMAGE is removed at exit (helpers.ts): the image and stack suites share it.
  rmSync(dir, { recursive: true, force: true });
});

dockerTest(
  test,
  "stack comes up healthy, Prometheus scrapes the app and loads the rules, down -v leaves nothing",
  async () => {
    await buildImage(secret);
    const daemon = daemonAddress();
    env = {
      ...process.env,
      CODEX_IMAGE: IMAGE,
      CODEX_BIND_ADDRESS: daemon.bind,
      // Empty: the daemon picks each host port and holds it, so none can be taken in between.
      CODEX_MCP_HOST_PORT: "",
      CODEX_METRICS_HOST_PORT: "",
      PROMETHEUS_HOST_PORT: "",
      ALERTMANAGER_HOST_PORT: "",
      CODEX_HEALTH_INTERVAL: "2s",
      MONITORING_HEALTH_INTERVAL: "2s",
    };
    await compose(["up", "-d", "--build"]);
    const ids = (await compose(["ps", "-q"])).stdout.split("\n").filter(Boolean);
    assert.is(
      ids.length,
      3,
      "app, prometheus and alertmanager (grafana is in the dashboards profile)",
    );
    await waitFor("every service healthy", 120_000, async () => {
      const states = await Promise.all(ids.map(health));
      if (states.some((s) => s === "unhealthy" || s === "exited"))
        throw new Error(
          `states: ${states.join(", ")}; healthchecks: ${(await Promise.all(ids.map(healthLog))).join(" / ")}`,
        );
      return states.every((s) => s === "healthy") ? true : undefined;
    });

    // Published where CODEX_BIND_ADDRESS says (loopback for a local daemon), on the port the daemon picked.
    const published = (await compose(["port", "prometheus", "9090"])).stdout.trim();
    assert.match(published, new RegExp(`^${daemon.bind.replace(/\./g, "\\.")}:\\d+$`));
    const prom = published.slice(published.lastIndexOf(":") + 1);

    // Nothing of the caller's disk is mounted: config comes in the images compose built on the daemon.
    for (const id of ids) {
      const mounts = JSON.parse(
        (await $({ quiet: true })`${DOCKER} inspect --format ${"{{json .Mounts}}"} ${id}`).stdout,
      ) as { Type: string; Source: string }[];
      assert.equal(
        mounts.filter((m) => m.Type === "bind").map((m) => m.Source),
        [],
        `bind mounts of ${id}`,
      );
    }
    assert.is(
      await inside(await container("prometheus"), "cat", "/etc/prometheus/alerts.yml"),
      readFileSync("docker/prometheus/alerts.yml", "utf8"),
    );

    const api = `http://${daemon.dial}:${prom}/api/v1`;
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

    await compose(["down", "-v", "--rmi", "local", "-t", "10"]);
    assert.equal(await leftovers(), []);
  },
);

dockerTest(
  test,
  "the Slack webhook URL reaches Alertmanager from the environment, and no log, image or process environment",
  async () => {
    env = {
      ...process.env,
      CODEX_IMAGE: IMAGE,
      ALERTMANAGER_HOST_PORT: "",
      MONITORING_HEALTH_INTERVAL: "2s",
      ALERT_SLACK_WEBHOOK_URL: WEBHOOK,
    };
    await compose(["up", "-d", "--build", "alertmanager"]);
    const am = await container("alertmanager");
    await waitFor("alertmanager healthy", 90_000, async () => {
      const s = await health(am);
      if (s === "unhealthy" || s === "exited") throw new Error(`alertmanager is ${s}`);
      return s === "healthy" ? s : undefined;
    });
    // In the file alertmanager.yml reads, for its user only, on a tmpfs.
    assert.is(await inside(am, "cat", "/run/secrets/alert_slack_webhook_url"), WEBHOOK);
    assert.is(
      (await inside(am, "stat", "-c", "%a %U", "/run/secrets/alert_slack_webhook_url")).trim(),
      "600 nobody",
    );
    assert.match(await inside(am, "sh", "-c", "grep ' /run/secrets ' /proc/mounts"), /^tmpfs /);
    // Alertmanager's own environment no longer has it.
    assert.not.match(await inside(am, "sh", "-c", "tr '\\0' '\\n' < /proc/1/environ"), MARKER);
    // A critical alert makes Alertmanager post to that URL (port 7 refuses): its log shows the attempt.
    await inside(
      am,
      "wget",
      "-q",
      "-O",
      "/dev/null",
      "--header",
      "Content-Type: application/json",
      "--post-data",
      '[{"labels":{"alertname":"E2EWebhook","severity":"critical","service":"e2e"}}]',
      "http://127.0.0.1:9093/api/v2/alerts",
    );
    const logs = await waitFor("Alertmanager to try the Slack webhook", 60_000, async () => {
      const r = await $({ quiet: true })`${DOCKER} logs ${am}`;
      const text = `${r.stdout}${r.stderr}`;
      return /integration=slack.*dial tcp 127\.0\.0\.1:7:/.test(text) ? text : undefined;
    });
    assert.not.match(logs, MARKER, "the webhook URL is in Alertmanager's log");
    const image = (
      await $({ quiet: true })`${DOCKER} inspect --format ${"{{.Config.Image}}"} ${am}`
    ).stdout.trim();
    const layers = (await $({ quiet: true })`${DOCKER} history --no-trunc ${image}`).stdout;
    const config = (await $({ quiet: true })`${DOCKER} image inspect ${image}`).stdout;
    assert.not.match(`${layers}${config}`, MARKER, "the webhook URL is in the config image");
    await compose(["down", "-v", "--rmi", "local", "-t", "5"]);
    assert.equal(await leftovers(), []);
  },
);

dockerTest(
  test,
  "the Grafana config image holds the provisioning, and its dashboards where the provider looks, outside the data volume",
  async () => {
    // No Grafana image offline: the node stand-in as the base shows what the Dockerfile copies where.
    env = { ...process.env, CODEX_IMAGE: IMAGE, GRAFANA_IMAGE: "node:24-bookworm-slim" };
    await compose(["--profile", "dashboards", "build", "grafana"]);
    const images = (await leftovers()).filter((n) => /grafana$/.test(n));
    assert.is(images.length, 1, `config image of grafana: ${images.join(", ")}`);
    const run = (sh: string) =>
      $({ quiet: true })`${DOCKER} run --rm --entrypoint sh ${images[0]} -c ${sh}`;
    const provider = (await run("cat /etc/grafana/provisioning/dashboards/codex-father.yml"))
      .stdout;
    const path = /^\s*path:\s*(\S+)\s*$/m.exec(provider)?.[1] ?? "";
    assert.ok(
      path && !path.startsWith("/var/lib/grafana"),
      `provider path ${path} is in the volume`,
    );
    assert.is(
      (await run(`cat ${path}/codex-father.json`)).stdout,
      readFileSync("docker/grafana/dashboards/codex-father.json", "utf8"),
    );
    assert.match(
      (await run("cat /etc/grafana/provisioning/datasources/prometheus.yml")).stdout,
      "url: http://prometheus:9090",
    );
    await $({ quiet: true })`${DOCKER} rmi ${images[0]}`;
    assert.equal(await leftovers(), []);
  },
);

test.run();
