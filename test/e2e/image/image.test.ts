/** The runtime image, built and run for real: healthy, scrapeable, non-root, read-only-able, quick to stop, no secret inside. */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { $ } from "zx";
import { contractMetrics, scrapedMetrics } from "../../../ci/stages/lint/dashboard.js";
import { CA_BUNDLE } from "../../helpers/ca.js";
import { daemonAddress, dockerTest, publishedPort } from "../../helpers/docker.js";
import {
  buildImage,
  DOCKER,
  health,
  healthLog,
  IMAGE,
  RUN_ID,
  SECRET_MARKER,
  waitFor,
} from "./helpers.js";

const test = suite("e2e image");
const q = $({ quiet: true });
const container = `${RUN_ID}-app`;
const network = `${RUN_ID}-net`;
const dir = mkdtempSync(join(tmpdir(), "codex-e2e-image-"));
const secret = join(dir, "npm_ca.pem");
writeFileSync(secret, `${readFileSync(CA_BUNDLE, "utf8")}\n# ${SECRET_MARKER}\n`);

test.after(async () => {
  await $({ quiet: true, nothrow: true })`${DOCKER} rm -f -v ${container}`;
  await $({ quiet: true, nothrow: true })`${DOCKER} network rm ${network}`;
  // IMAGE is removed at exit (helpers.ts): the image and stack suites share it.
  rmSync(dir, { recursive: true, force: true });
});

/** True when the byte stream of `docker save` contains `needle`. */
function saveContains(image: string, needle: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const child = spawn(DOCKER, ["save", image], { stdio: ["ignore", "pipe", "inherit"] });
    const pattern = Buffer.from(needle);
    let tail = Buffer.alloc(0);
    let found = false;
    child.stdout.on("data", (chunk: Buffer) => {
      const buf = Buffer.concat([tail, chunk]);
      if (buf.includes(pattern)) found = true;
      tail = buf.subarray(Math.max(0, buf.length - pattern.length));
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0 ? resolve(found) : reject(new Error(`docker save exited ${code}`)),
    );
  });
}

dockerTest(
  test,
  "image builds with the CA as a BuildKit secret, and the secret is in no layer",
  async () => {
    await buildImage(secret);
    const history = (await q`${DOCKER} history --no-trunc --format ${"{{.CreatedBy}}"} ${IMAGE}`)
      .stdout;
    assert.not.match(history, SECRET_MARKER);
    assert.not.match(history, "BEGIN CERTIFICATE");
    assert.is(
      await saveContains(IMAGE, SECRET_MARKER),
      false,
      "secret marker found in docker save output",
    );
    const labels = JSON.parse(
      (await q`${DOCKER} image inspect --format ${"{{json .Config.Labels}}"} ${IMAGE}`).stdout,
    );
    assert.is(labels["org.opencontainers.image.version"], RUN_ID);
    assert.is(labels["org.opencontainers.image.revision"], "e2e");
    const user = (
      await q`${DOCKER} image inspect --format ${"{{.Config.User}}"} ${IMAGE}`
    ).stdout.trim();
    assert.is(user, "codex:codex");
  },
);

dockerTest(
  test,
  "runs read-only as non-root, becomes healthy, serves valid /metrics, stops quickly",
  async () => {
    await buildImage(secret);
    const daemon = daemonAddress();
    await q`${DOCKER} network create ${network}`;
    // Read-only root; writable paths are tmpfs or (anonymous) volumes only. The daemon picks the host port.
    await q`${DOCKER} run -d --name ${container} --network ${network} --read-only --tmpfs /tmp -v /app/.codex-father -v /app/data -v /app/logs --health-interval 2s --health-start-period 30s -p ${`${daemon.bind}::9090`} ${IMAGE}`;
    const port = publishedPort(container, 9090, DOCKER);
    const status = await waitFor("container healthy", 90_000, async () => {
      const s = await health(container);
      if (s === "unhealthy" || s === "exited")
        throw new Error(
          `container is ${s}; healthcheck: ${await healthLog(container)}; log: ${(await $({ quiet: true, nothrow: true })`${DOCKER} logs --tail 20 ${container}`).stderr}`,
        );
      return s === "healthy" ? s : undefined;
    });
    assert.is(status, "healthy");

    const uid = (await q`${DOCKER} exec ${container} id -u`).stdout.trim();
    assert.is.not(uid, "0");
    assert.is(uid, "10001");
    const write = await $({
      quiet: true,
      nothrow: true,
    })`${DOCKER} exec ${container} touch /app/dist/probe`;
    assert.is.not(write.exitCode, 0, "root filesystem should be read-only");

    const res = await fetch(`http://${daemon.dial}:${port}/metrics`);
    assert.is(res.status, 200);
    const body = await res.text();
    const check = await $({ quiet: true, nothrow: true, input: body })`promtool check metrics`;
    assert.is(check.exitCode, 0, `promtool check metrics: ${check.stdout}${check.stderr}`);
    // Every metric of the documented contract is really exposed.
    const real = scrapedMetrics(body);
    const contract = contractMetrics(readFileSync("docs/architecture.md", "utf8"));
    const missing = [...contract.names].filter(
      (n) => !real.names.has(n) && n !== "up" && !n.startsWith("scrape_"),
    );
    assert.equal(missing, [], `documented but not exposed: ${missing.join(", ")}`);

    const t0 = Date.now();
    await q`${DOCKER} stop -t 10 ${container}`;
    const stopMs = Date.now() - t0;
    const code = Number(
      (await q`${DOCKER} inspect --format ${"{{.State.ExitCode}}"} ${container}`).stdout.trim(),
    );
    // 0, or 143 (terminated by the forwarded SIGTERM); 137 would mean it had to be killed.
    assert.ok(code === 0 || code === 143, `exit code ${code}`);
    // Quick means SIGTERM was handled: done well before the 10 s grace period that ends in SIGKILL.
    assert.ok(stopMs < 8000, `docker stop took ${stopMs} ms (grace period 10 s)`);
  },
);

test.run();
