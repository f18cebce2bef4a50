/**
 * The healthcheck's write probe against a real read-only mount, for root too (moved from
 * test/integration/scripts/healthcheck.test.ts, where it needed CAP_SYS_ADMIN for `mount --bind` and so
 * skipped in every pipeline cell). Here Docker makes the mount: the bundled healthcheck runs as root in the
 * image's Node base with CODEX_DATA_DIR on a tmpfs mounted read-only, next to the same run with it writable.
 * Nothing is bind-mounted from this host, so a remote daemon (DOCKER_HOST=tcp://…) works the same.
 */
import { spawnSync } from "node:child_process";
import { build } from "esbuild";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig, nodeImage } from "../../../ci/config.js";
import { dockerTest } from "../../helpers/docker.js";

const LABEL = `codex-test.healthcheck-ro=${process.pid}`;

/** scripts/healthcheck.ts as one CommonJS file, as `npm run build:healthcheck` makes it for the image. */
async function bundle(): Promise<string> {
  const r = await build({
    entryPoints: ["scripts/healthcheck.ts"],
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node22",
    write: false,
    logLevel: "warning",
  });
  return r.outputFiles[0]?.text ?? "";
}

/** Runs the healthcheck as root with a healthy tree under /w and the data dir on its own tmpfs (`/data:ro` for read-only). */
function run(image: string, code: string, dataMount: string) {
  const tree = [
    "mkdir -p /w/home/sessions /w/home/queue /w/home/git-state /w/logs /w/home-user",
    "printf '[user]\\n\\tname = T\\n\\temail = t@example.com\\n' > /w/home-user/.gitconfig",
    "exec node - </dev/stdin",
  ].join(" && ");
  return spawnSync(
    "docker",
    [
      "run",
      "--rm",
      "-i",
      "--label",
      LABEL,
      "--user",
      "0:0",
      "--tmpfs",
      "/w",
      "--tmpfs",
      dataMount,
      "-e",
      "CODEX_HOME=/w/home",
      "-e",
      "CODEX_SESSIONS_ROOT=/w/home/sessions",
      "-e",
      "CODEX_DATA_DIR=/data",
      "-e",
      "CODEX_LOG_DIR=/w/logs",
      "-e",
      "CODEX_MCP_LOG=/w/logs/mcp-server.log",
      "-e",
      "HOME=/w/home-user",
      "-e",
      "CODEX_MIN_FREE_BYTES=1024",
      "--entrypoint",
      "sh",
      image,
      "-c",
      tree,
    ],
    { input: code, encoding: "utf8", timeout: 120_000 },
  );
}

dockerTest(
  test,
  "unwritable dir, for root too: a read-only mount fails the real write probe",
  async () => {
    const config = await loadConfig();
    const image = nodeImage(config, config.image.nodeVersion);
    const code = await bundle();
    try {
      // The control: the same tree with the volume writable passes the filesystem check.
      const rw = run(image, code, "/data");
      assert.match(rw.stdout, /^ok\s+filesystem\b/m, rw.stdout + rw.stderr);
      const ro = run(image, code, "/data:ro");
      assert.is(ro.status, 1, ro.stdout + ro.stderr);
      assert.match(ro.stdout, /^fail\s+filesystem\s+.*data: not writable \(EROFS/m);
      assert.match(ro.stdout, /unhealthy: .*filesystem/m);
    } finally {
      const left = spawnSync("docker", ["ps", "-aq", "--filter", `label=${LABEL}`], {
        encoding: "utf8",
      }).stdout.trim();
      if (left) spawnSync("docker", ["rm", "-f", "-v", ...left.split("\n")]);
    }
  },
);

test.run();
