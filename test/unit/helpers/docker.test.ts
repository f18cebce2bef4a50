import { spawn, spawnSync } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { daemonAddress, forwardPort } from "../../helpers/docker.js";

test("daemonAddress: a local daemon is dialled and published on loopback; a remote one at its host, published on all interfaces", () => {
  const local = { dial: "127.0.0.1", bind: "127.0.0.1", remote: false };
  for (const h of [
    undefined,
    "",
    "unix:///var/run/docker.sock",
    "tcp://127.0.0.1:2375",
    "tcp://localhost:2375",
  ])
    assert.equal(daemonAddress(h), local, String(h));
  assert.equal(daemonAddress("tcp://172.17.0.5:2375"), {
    dial: "172.17.0.5",
    bind: "0.0.0.0",
    remote: true,
  });
  assert.is(daemonAddress("ssh://deploy@build-host:2222").dial, "build-host");
  assert.is(daemonAddress("tcp://[fd00::5]:2375").dial, "fd00::5");
  assert.throws(() => daemonAddress("172.17.0.5:2375"), /DOCKER_HOST="172\.17\.0\.5:2375"/);
});

/** An echo server in a child process on 127.0.0.2 (the port it got on stdout), so nothing here serves it. */
async function echoServer(): Promise<{ port: number; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      "-e",
      `const s = require("node:net").createServer((c) => c.on("data", (b) => c.end("echo:" + b)));
       s.listen(0, "127.0.0.2", () => process.stdout.write(s.address().port + "\\n"));`,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const port = await new Promise<number>((resolve) =>
    child.stdout.once("data", (b: Buffer) => resolve(Number(b.toString().trim()))),
  );
  return { port, stop: () => child.kill() };
}

test("forwardPort relays while this process is blocked in a synchronous client, and refuses a local port already taken", async () => {
  const upstream = await echoServer();
  let fwd: Awaited<ReturnType<typeof forwardPort>> | undefined;
  try {
    // The forwarder takes the same port number on 127.0.0.1 (free there: the upstream holds it on 127.0.0.2).
    fwd = await forwardPort(upstream.port, "127.0.0.2");
    // spawnSync blocks this event loop, as execFileSync of `docker manifest` does in the push test.
    const client = spawnSync(
      process.execPath,
      [
        "-e",
        `const c = require("node:net").connect(${upstream.port}, "127.0.0.1", () => c.write("ping"));
         c.on("data", (b) => process.stdout.write(b));`,
      ],
      { encoding: "utf8", timeout: 10_000 },
    );
    assert.is(client.stdout, "echo:ping", `client: ${client.error ?? client.stderr}`);
    try {
      await forwardPort(upstream.port, "127.0.0.2");
      assert.unreachable("the port is taken");
    } catch (e) {
      assert.match(
        (e as Error).message,
        `forwarding 127.0.0.1:${upstream.port} to 127.0.0.2:${upstream.port}: listen EADDRINUSE`,
      );
    }
  } finally {
    await fwd?.close();
    upstream.stop();
  }
});

test.run();
