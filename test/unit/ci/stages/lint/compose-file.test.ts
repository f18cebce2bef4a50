import { suite } from "uvu";
import * as assert from "uvu/assert";
import {
  checkComposeText,
  interpolate,
  portHostIp,
  relativeHostPath,
} from "../../../../../ci/stages/lint/compose-file.js";

const test = suite("compose check");

test("interpolate follows compose's rules", () => {
  const env = { SET: "x", EMPTY: "" };
  assert.is(
    // biome-ignore lint/suspicious/noTemplateCurlyInString: compose / Grafana syntax, not a JS template
    interpolate("${SET:-d} ${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET} $SET $$", env),
    "x d  d  x $",
  );
});

test("portHostIp reads the host address of short-syntax ports", () => {
  assert.is(portHostIp("127.0.0.1:3000:3000"), "127.0.0.1");
  assert.is(portHostIp("3000:3000"), "");
  assert.is(portHostIp("0.0.0.0:53:53/udp"), "0.0.0.0");
  assert.is(portHostIp("[::1]:80:80"), "::1");
});

const good = `
services:
  web:
    image: nginx
    ports: ["127.0.0.1:8080:80"]
    healthcheck: { test: ["CMD", "true"] }
  job:
    image: busybox
    x-healthcheck-reason: one-shot migration
    depends_on:
      web: { condition: service_healthy }
`;

test("a clean file has no problems", () => {
  assert.equal(checkComposeText(good, "c.yaml", { env: {} }), []);
});

test("missing healthcheck, public port, impossible depends_on and version: are each reported with a line", () => {
  const bad = `version: "3.8"
services:
  web:
    image: nginx
    ports:
      - "8080:80"
      - target: 443
        published: 8443
  db:
    image: postgres
    healthcheck: { test: ["NONE"] }
  api:
    image: api
    healthcheck: { test: ["CMD", "true"] }
    ports: ["\${BIND:-127.0.0.1}:3000:3000"]
    depends_on:
      db: { condition: service_healthy }
      ghost: { condition: service_started }
`;
  const problems = checkComposeText(bad, "bad.yaml", { env: {} });
  const text = problems.map((p) => `${p.line}: ${p.message}`).join("\n");
  assert.match(text, /^1: `version:` is obsolete/m);
  assert.match(text, /service web: no healthcheck/);
  assert.match(text, /6: service web: port "8080:80" binds to all interfaces/);
  assert.match(text, /service web: port "\(all interfaces\):8443" binds to all interfaces/);
  assert.match(text, /service db: no healthcheck/);
  assert.match(text, /service api: waits for db to be healthy, but db has no healthcheck/);
  assert.match(text, /service api: depends_on unknown service ghost/);
  assert.not.match(text, /api: port/);
  assert.is(problems.length, 7, text);
});

test("a variable that resolves to 0.0.0.0 is caught, unless public ports are allowed", () => {
  const text = `services:\n  a:\n    image: x\n    healthcheck: { test: ["CMD", "true"] }\n    ports: ["\${BIND:-127.0.0.1}:1:1"]\n`;
  assert.is(checkComposeText(text, "c", { env: { BIND: "0.0.0.0" } }).length, 1);
  assert.is(checkComposeText(text, "c", { env: { BIND: "0.0.0.0" }, allowPublic: true }).length, 0);
  assert.is(checkComposeText(text, "c", { env: {} }).length, 0);
});

test("relativeHostPath tells a caller-relative path from a named volume or a daemon-host path", () => {
  for (const p of [".", "..", "./x", "../x/y", "~", "~/x"]) assert.ok(relativeHostPath(p), p);
  for (const p of ["data", "prometheus-data", "/var/run/docker.sock", ".hidden", "x/./y"])
    assert.not.ok(relativeHostPath(p), p);
});

test("relative host bind mounts and relative secret files are reported with their line; named volumes and absolute paths pass", () => {
  const text = `services:
  prom:
    image: p
    healthcheck: { test: ["CMD", "true"] }
    volumes:
      - ./prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro
      - prometheus-data:/prometheus
      - /var/run/docker.sock:/var/run/docker.sock
      - \${CONF_DIR:-../conf}:/conf
      - type: bind
        source: grafana
        target: /g
      - type: bind
        source: /srv/abs
        target: /a
      - type: volume
        source: named
        target: /n
secrets:
  hook:
    file: \${HOOK_FILE:-./hook.txt}
  abs:
    file: /run/hook
`;
  const problems = checkComposeText(text, "c.yaml", { env: {} });
  const lines = problems.map((p) => `${p.line}: ${p.message}`).join("\n");
  assert.match(
    lines,
    /^6: service prom: volume source "\.\/prometheus\/prometheus\.yml" is a path on the caller's disk/m,
  );
  assert.match(
    lines,
    /^9: service prom: volume source "\.\.\/conf" is a path on the caller's disk/m,
  );
  assert.match(lines, /^10: service prom: volume source "grafana" is a path on the caller's disk/m);
  assert.match(lines, /^21: secret hook: file "\.\/hook\.txt" is a path on the caller's disk/m);
  assert.is(problems.length, 4, lines);
  // Interpolation decides: an absolute path from the environment is the daemon host's own.
  assert.equal(
    checkComposeText(text, "c.yaml", { env: { CONF_DIR: "/etc/conf", HOOK_FILE: "/h" } }).length,
    2,
  );
});

test("YAML syntax errors are reported with their line", () => {
  const problems = checkComposeText("services:\n  a: [\n", "broken.yaml");
  assert.ok(problems.length > 0);
  assert.is(problems[0]?.file, "broken.yaml");
});

test.run();
