/**
 * Tests that need a real Docker daemon: the gate (run, skip visibly, or fail under REQUIRE_DOCKER=1), and what
 * keeps them remote-daemon-safe: the daemon's address from DOCKER_HOST, ports the daemon picks, helpers
 * watched for their death.
 */
import { spawn, spawnSync } from "node:child_process";
import { connect, createServer, type Socket } from "node:net";
import type { Test } from "uvu";

/** True when `docker info` answers within a few seconds. */
export const dockerAvailable: boolean = (() => {
  const r = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
    stdio: "ignore",
    timeout: 10_000,
  });
  return r.status === 0;
})();

/** Registers a test that needs Docker: it runs when Docker answers, fails when REQUIRE_DOCKER=1 and it does not, and is skipped otherwise. */
export function dockerTest(suite: Test, name: string, fn: () => Promise<void> | void): void {
  if (dockerAvailable) suite(name, fn);
  else if (process.env.REQUIRE_DOCKER === "1")
    suite(name, () => {
      throw new Error(
        "Docker daemon unreachable and REQUIRE_DOCKER=1: start dockerd or unset REQUIRE_DOCKER",
      );
    });
  else suite.skip(name, fn);
}

/** Where a test reaches the ports the daemon under test publishes, and where it asks it to publish them. */
export interface DaemonAddress {
  /** Host to dial: DOCKER_HOST's host (tcp://, ssh://, http(s)://), else 127.0.0.1. */
  dial: string;
  /**
   * Address to publish on: 127.0.0.1 for a daemon on this machine; 0.0.0.0 for a remote one, whose loopback
   * the test cannot reach.
   */
  bind: string;
  remote: boolean;
}

/** Reads DOCKER_HOST: unset or unix:// is this machine; tcp://host:port and ssh://user@host name the daemon's host. */
export function daemonAddress(dockerHost = process.env.DOCKER_HOST): DaemonAddress {
  const local = { dial: "127.0.0.1", bind: "127.0.0.1", remote: false };
  if (!dockerHost || /^(unix|npipe|fd):/.test(dockerHost)) return local;
  let host: string;
  try {
    host = new URL(dockerHost).hostname.replace(/^\[|\]$/g, "");
  } catch {
    throw new Error(`DOCKER_HOST="${dockerHost}" is not a URL such as tcp://host:2375`);
  }
  if (!host) throw new Error(`DOCKER_HOST="${dockerHost}" names no host`);
  if (host === "localhost" || host === "::1" || /^127\./.test(host)) return local;
  return { dial: host, bind: "0.0.0.0", remote: true };
}

/**
 * The host port the daemon published `port` of `container` on. Publish with an empty host port
 * (`-p 127.0.0.1::9090`): the daemon picks a free one and holds it, so no other process can take it between
 * choosing and using, as a port freed by the test first could be.
 */
export function publishedPort(container: string, port: number, docker = "docker"): number {
  const r = spawnSync(docker, ["port", container, `${port}/tcp`], { encoding: "utf8" });
  const first = r.stdout.split("\n").find((l) => l.trim());
  const n = Number(first?.slice(first.lastIndexOf(":") + 1));
  if (r.status !== 0 || !Number.isInteger(n) || n <= 0)
    throw new Error(`${container} publishes no ${port}/tcp: ${r.stderr.trim() || r.stdout.trim()}`);
  return n;
}

/** A container watched for its death while a test uses it. */
export interface Watched {
  /** Rejects when the container stops before `stop()`, with its exit code and last log lines. */
  died: Promise<never>;
  /** Call before removing it on purpose. */
  stop(): void;
}

/** Watches `container` with `docker wait`, so a helper that dies mid-test fails the test with its logs. */
export function watchContainer(container: string, what: string, docker = "docker"): Watched {
  let stopping = false;
  const wait = spawn(docker, ["wait", container], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  wait.stdout.on("data", (b: Buffer) => {
    out += b.toString();
  });
  wait.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const died = new Promise<never>((_, reject) => {
    wait.on("close", () => {
      if (stopping) return;
      const logs = spawnSync(docker, ["logs", "--tail", "20", container], { encoding: "utf8" });
      reject(
        new Error(
          `${what} (${container}) died: docker wait said "${out.trim()}"; last log lines:\n${`${logs.stdout}${logs.stderr}`.trim()}`,
        ),
      );
    });
  });
  died.catch(() => {}); // observed by whoever races it; never an unhandled rejection
  return {
    died,
    stop: () => {
      stopping = true;
      wait.kill();
    },
  };
}

/**
 * Listens on 127.0.0.1:`port` here and forwards each connection to `host`:`port`, so a client that insists on
 * the daemon's own name for a service (`docker manifest` for a registry at 127.0.0.1:<port>) reaches it on a
 * remote daemon too. Rejects when the local port is taken.
 */
export async function forwardPort(
  port: number,
  host: string,
): Promise<{ close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(port, host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e) =>
      reject(new Error(`forwarding 127.0.0.1:${port} to ${host}:${port}: ${e.message}`)),
    );
    server.listen(port, "127.0.0.1", resolve);
  });
  return {
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
