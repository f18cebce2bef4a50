import { connect, createServer } from "node:net";
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

test("forwardPort relays a connection both ways, and refuses a local port already taken", async () => {
  const upstream = createServer((s) => s.on("data", (b) => s.end(`echo:${b}`)));
  await new Promise<void>((r) => upstream.listen(0, "127.0.0.2", r));
  const port = (upstream.address() as { port: number }).port;
  // The forwarder takes the same port number on 127.0.0.1 (free there: the upstream holds it on 127.0.0.2).
  const fwd = await forwardPort(port, "127.0.0.2");
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const c = connect(port, "127.0.0.1", () => c.write("ping"));
      let got = "";
      c.on("data", (b) => {
        got += b;
      });
      c.on("end", () => resolve(got));
      c.on("error", reject);
    });
    assert.is(reply, "echo:ping");
    try {
      await forwardPort(port, "127.0.0.2");
      assert.unreachable("the port is taken");
    } catch (e) {
      assert.match(
        (e as Error).message,
        `forwarding 127.0.0.1:${port} to 127.0.0.2:${port}: listen EADDRINUSE`,
      );
    }
  } finally {
    await fwd.close();
    upstream.close();
  }
});

test.run();
