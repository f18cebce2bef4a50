/**
 * A registry for the push test, run as a container on the daemon under test (test/fixtures/registry), so the
 * daemon that pushes reaches it wherever that daemon is. Its port is picked and held by the daemon; its death
 * fails the test with its logs.
 */
import { join } from "node:path";
import { daemonAddress, forwardPort, publishedPort, watchContainer } from "../../helpers/docker.js";
import { DOCKER_BIN, docker, dockerTry, id, onCleanup, repoRoot } from "./harness.js";

/** A running registry (and, for a remote daemon, the forwarder to it). */
export interface Registry {
  /** `127.0.0.1:<port>`: the daemon's loopback, which Docker trusts without TLS. */
  address: string;
  /** Rejects if the registry container (or the forwarder) stops before `stop()`. */
  died: Promise<never>;
  stop(): Promise<void>;
}

/** Builds the registry image on the daemon and starts it; resolves once it answers `GET /v2/`. */
export async function startRegistry(): Promise<Registry> {
  const image = `codex-test/registry:${id}`;
  const name = `codex-e2e-registry-${id}`;
  const b = dockerTry("build", "-q", "-t", image, join(repoRoot, "test/fixtures/registry"));
  if (b.status !== 0) throw new Error(`building ${image}: ${b.out}`);
  const daemon = daemonAddress();
  let stopped = false;
  let watched: ReturnType<typeof watchContainer> | undefined;
  let forward: Awaited<ReturnType<typeof forwardPort>> | undefined;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    watched?.stop();
    await forward?.close();
    dockerTry("rm", "-f", "-v", name);
    dockerTry("rmi", image);
  };
  onCleanup(stop);
  // An empty host port: the daemon picks one and holds it. On a remote daemon it is published on all of the
  // daemon host's interfaces, so this machine can reach it too.
  docker("run", "-d", "--name", name, "-p", `${daemon.bind}::5000`, image);
  watched = watchContainer(name, "the test registry", DOCKER_BIN);
  const port = publishedPort(name, 5000, DOCKER_BIN);
  // The daemon pushes to its own 127.0.0.1:<port>; `docker manifest` (client side) dials 127.0.0.1:<port>
  // here, which for a remote daemon is forwarded to its host.
  if (daemon.remote) forward = await forwardPort(port, daemon.dial);
  const probe =
    "fetch('http://127.0.0.1:5000/v2/').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))";
  const until = Date.now() + 30_000;
  for (;;) {
    if (dockerTry("exec", name, "node", "-e", probe).status === 0) break;
    const died = await Promise.race([
      watched.died.then(
        () => undefined,
        (e: Error) => e,
      ),
      new Promise<undefined>((r) => setTimeout(r, 300)),
    ]);
    if (died) throw died;
    if (Date.now() > until) throw new Error(`${name} does not answer GET /v2/ within 30 s`);
  }
  const died = forward ? Promise.race([watched.died, forward.died]) : watched.died;
  died.catch(() => {});
  return { address: `127.0.0.1:${port}`, died, stop };
}
