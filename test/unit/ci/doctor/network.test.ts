import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer as createTlsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  caCheck,
  offlineRefs,
  registryAnswers,
  registryCheck,
  registryHost,
} from "../../../../ci/doctor/network.js";
import { contextFor, pathDir } from "./fakes.js";

const listen = (server: Server): Promise<number> =>
  new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );
const close = (server: Server) => new Promise((r) => server.close(r));

test("registry host of an image reference", () => {
  assert.is(registryHost("node:24-bookworm-slim"), "registry-1.docker.io");
  assert.is(registryHost("prom/prometheus:v2.42.0"), "registry-1.docker.io");
  assert.is(registryHost("docker.io/library/node:24"), "registry-1.docker.io");
  assert.is(registryHost("ghcr.io/acme/tool:1"), "ghcr.io");
  assert.is(registryHost("localhost:5000/node:24"), "localhost:5000");
  assert.is(registryHost("127.0.0.1:5000/x/y:1"), "127.0.0.1:5000");
});

test("offline base images: every Node version in use, Prometheus and Alertmanager", async () => {
  const ctx = await contextFor(pathDir());
  const refs = offlineRefs(ctx.config);
  for (const v of [...ctx.config.node, ctx.config.image.nodeVersion])
    assert.ok(refs.includes(ctx.config.images.node.replace("{version}", v)), v);
  assert.ok(refs.includes(ctx.config.images.prometheus));
  assert.ok(refs.includes(ctx.config.images.alertmanager));
  assert.is(new Set(refs).size, refs.length);
});

test("a registry answers with any HTTP status; a closed port or a silent one does not, within the bound", async () => {
  const seen: string[] = [];
  const registry = createHttpServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(401, { "docker-distribution-api-version": "registry/2.0" }).end();
  });
  const silent = createHttpServer(() => {});
  const [up, mute] = [await listen(registry), await listen(silent)];
  try {
    assert.equal(await registryAnswers(`127.0.0.1:${up}`, 2000), { ok: true, why: "HTTP 401" });
    assert.equal(seen, ["GET /v2/"]);
    await close(registry);
    assert.equal(await registryAnswers(`127.0.0.1:${up}`, 2000), {
      ok: false,
      why: "ECONNREFUSED",
    });
    const t0 = Date.now();
    assert.equal(await registryAnswers(`127.0.0.1:${mute}`, 500), { ok: false, why: "timeout" });
    assert.ok(
      Date.now() - t0 < 10_000,
      "the 500 ms bound ended the wait (slack for a loaded machine)",
    );
  } finally {
    silent.closeAllConnections();
    await close(silent);
  }
});

test("the registry check asks only the configured registry host", async () => {
  const seen: string[] = [];
  const registry = createHttpServer((req, res) => {
    seen.push(`${req.headers.host} ${req.url}`);
    res.writeHead(200).end("{}");
  });
  const port = await listen(registry);
  try {
    const ctx = await contextFor(pathDir());
    const local = `127.0.0.1:${port}`;
    ctx.config = {
      ...ctx.config,
      images: {
        ...ctx.config.images,
        node: `${local}/node:{version}-bookworm-slim`,
        prometheus: `${local}/prom/prometheus:v2.42.0`,
        alertmanager: `${local}/prom/alertmanager:v0.25.0`,
        dind: `${local}/docker:28-dind`,
      },
    };
    const r = await registryCheck(ctx);
    assert.is(r.status, "ok");
    assert.is(r.found, `${local} answers`);
    assert.equal(seen, [`${local} /v2/`]);
  } finally {
    await close(registry);
  }
});

// A private CA, a certificate for 127.0.0.1 it signed, and an unrelated CA; made once with openssl,
// valid for a century, for tests only.
const FIXTURES = "test/unit/ci/doctor/fixtures";

test("extra CA bundle: needed behind an intercepting TLS server, given or not by NODE_EXTRA_CA_CERTS", async () => {
  const server = createTlsServer(
    {
      key: readFileSync(join(FIXTURES, "server.key")),
      cert: readFileSync(join(FIXTURES, "server.pem")),
    },
    (_, res) => res.end(),
  );
  const port = await listen(server as unknown as Server);
  try {
    const base = await contextFor(pathDir(), { npmRegistry: `https://127.0.0.1:${port}/` });
    const unset = await caCheck(base);
    assert.is(unset.status, "missing");
    assert.match(unset.found, /^needed \(127\.0\.0\.1: [A-Z_]+\); NODE_EXTRA_CA_CERTS unset/);
    assert.match(unset.fix ?? "", /export NODE_EXTRA_CA_CERTS=/);
    const viaNpm = await caCheck({ ...base, env: { npm_config_cafile: join(FIXTURES, "ca.pem") } });
    assert.match(
      viaNpm.fix ?? "",
      `export NODE_EXTRA_CA_CERTS=${join(FIXTURES, "ca.pem")} (it verifies 127.0.0.1`,
    );
    const given = await caCheck({
      ...base,
      env: { NODE_EXTRA_CA_CERTS: join(FIXTURES, "ca.pem") },
    });
    assert.is(given.status, "ok");
    assert.match(given.found, /given: NODE_EXTRA_CA_CERTS=.*ca\.pem/);
    // The Dagger engine pulls images outside any step: it needs the CA in its own directory.
    assert.match(given.fix ?? "", /~\/\.config\/dagger\/ca-certificates\//);
    assert.match(unset.fix ?? "", /dagger\/ca-certificates/);
    const wrong = await caCheck({
      ...base,
      env: { NODE_EXTRA_CA_CERTS: join(FIXTURES, "other-ca.pem") },
    });
    assert.is(wrong.status, "missing");
    assert.match(wrong.found, /does not help/);
    await close(server as unknown as Server);
    const gone = await caCheck(base);
    assert.is(gone.status, "warn");
    assert.match(gone.found, /cannot tell: 127\.0\.0\.1 did not answer \(ECONNREFUSED\)/);
  } finally {
    server.close();
  }
});

test.run();
