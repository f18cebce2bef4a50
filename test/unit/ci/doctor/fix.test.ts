import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { doctor } from "../../../../ci/doctor/index.js";
import { localRows } from "../../../../ci/lib/cells.js";
import type { RowRunner } from "../../../../ci/progress.js";
import { contextFor, fakeBin, pathDir } from "./fakes.js";

// `doctor --fix` end to end on a bare "Debian as root" whose system tools are stand-ins that log their
// calls and "install" what they are asked for: apt-get, mount, update-binfmts, dockerd.
test("--fix on a bare Debian as root: installs, enables qemu, starts dockerd, then reports ready", async () => {
  const registry = createServer((_, res) => res.writeHead(401).end());
  await new Promise<void>((r) => registry.listen(0, "127.0.0.1", r));
  const local = `127.0.0.1:${(registry.address() as AddressInfo).port}`;
  const dir = pathDir();
  const calls = join(dir, "calls");
  const tool = (name: string, body: string) =>
    `printf '#!/bin/sh\\n${body}\\n' > ${dir}/${name}; /bin/chmod +x ${dir}/${name}`;
  fakeBin(
    dir,
    "apt-get",
    `echo "apt-get $*" >> ${calls}
[ "$1" = install ] || exit 0
[ -x ${dir}/policy-rc.d ] && echo "policy-rc.d in place" >> ${calls}
for p in "$@"; do case "$p" in
  docker.io) ${tool("docker", `case "$1" in --version) echo Docker version 20.10.24, build x;; info) [ -e ${dir}/up ] && echo 20.10.24 && exit 0; exit 1;; *) exit 1;; esac`)}
    ${tool("dockerd", `echo $$ > ${dir}/dockerd.pid; : > ${dir}/up; exec /bin/sleep 300`)} ;;
  docker-compose) ${tool("docker-compose", "echo 1.29.2")} ;;
  prometheus) ${tool("promtool", "echo promtool, version 2.42.0")} ;;
  prometheus-alertmanager) ${tool("amtool", "echo amtool, version 0.25.0")} ;;
  mmdebstrap|jq|bc|docker-registry) ${tool("$p", "echo $p 1.0.0")} ;;
esac; done`,
  );
  fakeBin(
    dir,
    "mount",
    `echo "mount $*" >> ${calls}; /bin/mkdir -p ${dir}/binfmt; : > ${dir}/binfmt/register; : > ${dir}/binfmt/status`,
  );
  fakeBin(
    dir,
    "update-binfmts",
    `echo "update-binfmts $*" >> ${calls}; printf 'enabled\\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\\nflags: PF\\n' > ${dir}/binfmt/qemu-aarch64`,
  );
  const ctx = await contextFor(dir, {
    host: { linux: true, debian: true, root: true, arch: "x64" },
    binfmtDir: join(dir, "binfmt"),
  });
  ctx.config.images = {
    ...ctx.config.images,
    node: `${local}/node:{version}-bookworm-slim`,
    prometheus: `${local}/prom/prometheus:v2.42.0`,
    alertmanager: `${local}/prom/alertmanager:v0.25.0`,
    dind: `${local}/docker:28-dind`,
  };
  const lines: string[] = [];
  // The fixes as rows of a display, as `npm run setup` runs them: names, steps, and the end of the fixes.
  const rows: string[] = [];
  const steps: string[] = [];
  let fixesDone = 0;
  const logged = localRows(() => (l) => lines.push(l));
  const row: RowRunner = (name, fn, opts) => {
    rows.push(name);
    return logged(name, (h) => fn({ ...h, step: (s) => steps.push(s) }), opts);
  };
  try {
    const built: string[][] = [];
    const code = await doctor({
      fix: true,
      config: ctx.config,
      context: ctx,
      log: (l) => lines.push(l),
      buildImages: async (platforms) => {
        built.push(platforms);
      },
      fixes: { row, done: () => fixesDone++ },
    });
    const out = lines.join("\n");
    assert.is(code, 0, out);
    const log = readFileSync(calls, "utf8")
      .split("\n")
      .filter((l) => !l.endsWith(" update"));
    assert.equal(log.slice(0, 4), [
      "apt-get install -y -q -o Dpkg::Use-Pty=0 docker.io docker-compose qemu-user-static binfmt-support prometheus prometheus-alertmanager mmdebstrap docker-registry jq bc tmux",
      "policy-rc.d in place",
      `mount -t binfmt_misc binfmt_misc ${join(dir, "binfmt")}`,
      "update-binfmts --enable qemu-aarch64",
    ]);
    assert.not.ok(existsSync(join(dir, "policy-rc.d")), "policy-rc.d removed after the install");
    assert.match(out, /dockerd \(pid \d+\) answers/);
    const after = out.slice(out.indexOf("after --fix:"));
    assert.not.match(after, /MISSING/);
    assert.is(lines.at(-1), "doctor: ready (warnings are optional)");
    assert.equal(built, [], "a registry answers, so no offline images are built");
    assert.equal(rows, [
      "install docker.io docker-compose qemu-user-static binfmt-support prometheus prometheus-alertmanager mmdebstrap docker-registry jq bc tmux",
      "enable qemu-aarch64",
      "start dockerd",
    ]);
    assert.ok(steps.includes("apt-get install"), steps.join(", "));
    assert.is(fixesDone, 1, "the display is told once the fixes are over");
  } finally {
    const pid = join(dir, "dockerd.pid");
    if (existsSync(pid)) process.kill(Number(readFileSync(pid, "utf8")), "SIGKILL");
    registry.close();
  }
});

test.run();
