/**
 * Tests that need a real Docker daemon: the gate (run, skip visibly, or fail under REQUIRE_DOCKER=1), and what
 * keeps them remote-daemon-safe: the daemon's address from DOCKER_HOST, ports the daemon picks, helpers
 * watched for their death.
 */
import { spawn, spawnSync } from "node:child_process";
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

/** The forwarder's program: `node -e FORWARDER <port> <host>`; says "ready" once listening. */
const FORWARDER = `
const net = require("node:net");
const [port, host] = process.argv.slice(1);
const server = net.createServer((client) => {
  const upstream = net.connect(Number(port), host);
  const end = () => { client.destroy(); upstream.destroy(); };
  client.on("error", end);
  upstream.on("error", end);
  client.pipe(upstream).pipe(client);
});
server.on("error", (e) => { console.error(e.message); process.exit(1); });
server.listen(Number(port), "127.0.0.1", () => console.log("ready"));
`;

/**
 * Listens on 127.0.0.1:`port` here and forwards each connection to `host`:`port`, so a client that insists on
 * the daemon's own name for a service (`docker manifest` for a registry at 127.0.0.1:<port>) reaches it on a
 * remote daemon too. A child process does the relaying: a test that waits on a client synchronously
 * (execFileSync) would otherwise block the very event loop that relays for it. Rejects when the local port is
 * taken; `died` rejects if the forwarder stops before `close()`.
 */
export async function forwardPort(
  port: number,
  host: string,
): Promise<{ died: Promise<never>; close: () => Promise<void> }> {
  const child = spawn(process.execPath, ["-e", FORWARDER, String(port), host], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let closing = false;
  child.stderr.on("data", (b: Buffer) => {
    out += b.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on("data", (b: Buffer) => {
      if (b.toString().includes("ready")) resolve();
    });
    void exited.then((code) =>
      reject(
        new Error(
          `forwarding 127.0.0.1:${port} to ${host}:${port}: ${out.trim() || `exit ${code}`}`,
        ),
      ),
    );
  });
  const died = exited.then((code): never => {
    if (closing) return new Promise<never>(() => {}) as never;
    throw new Error(`the forwarder of 127.0.0.1:${port} died (exit ${code}): ${out.trim()}`);
  });
  died.catch(() => {});
  return {
    died,
    close: async () => {
      closing = true;
      child.kill();
      await exited;
    },
  };
}

/** What a pipeline run left behind in Docker (containers, networks, volumes), by its `codex-ci.run` label. */
export function leftovers(runId: string): string {
  const q = (args: string[]) =>
    spawnSync("docker", [...args, "--filter", `label=codex-ci.run=${runId}`], {
      encoding: "utf8",
    }).stdout.trim();
  return [q(["ps", "-aq"]), q(["network", "ls", "-q"]), q(["volume", "ls", "-q"])]
    .filter(Boolean)
    .join(" ");
}
