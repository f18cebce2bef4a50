/** Checks of Docker: the daemon, each client on PATH, BuildKit, buildx and compose. */
import type { CheckResult, DoctorContext } from "./check.js";
import { run, semver, which, whichAll } from "./probe.js";

/** One `docker` executable on PATH and what it can do. */
export interface DockerClient {
  path: string;
  version: string;
  buildx: boolean;
  composeV2?: string;
}

/** Clients before 23.0 build with BuildKit built in; later ones need the buildx plugin for it. */
export const hasBuildKit = (c: DockerClient): boolean =>
  c.buildx || Number(c.version.split(".")[0]) < 23;

/** "path version" of a client. */
const describe = (c: DockerClient): string => `${c.path} ${c.version}`;

/** Every distinct `docker` client on PATH, probed concurrently. */
export async function dockerClients(ctx: DoctorContext): Promise<DockerClient[]> {
  const paths = await whichAll("docker", ctx.env);
  return Promise.all(
    paths.map(async (path) => {
      const [v, bx, cv] = await Promise.all([
        run(path, ["--version"], ctx.env, 5000),
        run(path, ["buildx", "version"], ctx.env, 5000),
        run(path, ["compose", "version", "--short"], ctx.env, 5000),
      ]);
      return {
        path,
        version: semver(v.stdout) ?? "unknown",
        buildx: bx.ok,
        composeV2: cv.ok ? (semver(cv.stdout) ?? cv.stdout) : undefined,
      };
    }),
  );
}

/** Whether the daemon answers `docker info`, bounded. */
export async function daemonCheck(
  ctx: DoctorContext,
  clients: DockerClient[],
): Promise<CheckResult> {
  const name = "docker daemon";
  const client = clients[0];
  const where = ctx.env.DOCKER_HOST ?? "/var/run/docker.sock";
  const dockerd = await which("dockerd", ctx.env);
  const fix = dockerd
    ? `start it: ${dockerd} & (or systemctl start docker)`
    : "apt-get install docker.io, then start dockerd (or install Docker Desktop / Docker Engine)";
  const apt = dockerd ? undefined : ["docker.io"];
  if (!client)
    return {
      name,
      status: "missing",
      found: "no docker client to ask",
      fix,
      apt,
      action: "dockerd",
    };
  const r = await run(
    client.path,
    ["info", "--format", "{{.ServerVersion}} {{.OperatingSystem}}"],
    ctx.env,
  );
  if (r.ok) return { name, status: "ok", found: `${r.stdout} at ${where}` };
  // The client's own reason ("Cannot connect…", "permission denied…"), not its template error.
  const lines = `${r.stderr}\n${r.stdout}`
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("template:"));
  const why =
    lines.find((l) => /cannot connect|permission denied|error during connect/i.test(l)) ??
    lines.at(-1) ??
    `exit ${r.code}`;
  const found = `no answer at ${where}: ${why}`;
  // A daemon runs but its socket is not ours: starting another one would be wrong.
  if (/permission denied/i.test(why))
    return {
      name,
      status: "missing",
      found,
      fix: "join the docker group (sudo usermod -aG docker $USER, then log in again), or run as root",
    };
  return { name, status: "missing", found, fix, apt, action: "dockerd" };
}

/** Which docker clients are on PATH, first first. */
export function clientCheck(clients: DockerClient[]): CheckResult {
  if (clients.length === 0)
    return {
      name: "docker client",
      status: "missing",
      found: "no docker on PATH",
      fix: "apt-get install docker.io",
      apt: ["docker.io"],
    };
  return { name: "docker client", status: "ok", found: clients.map(describe).join(", ") };
}

/** BuildKit: a client that builds with it, and a warning when the first on PATH cannot. */
export function buildKitCheck(clients: DockerClient[]): CheckResult {
  const name = "BuildKit";
  const able = clients.filter(hasBuildKit);
  const first = clients[0];
  if (able.length === 0)
    return {
      name,
      status: "missing",
      found: clients.length
        ? `no client builds with it (${clients.map(describe).join(", ")})`
        : "no client",
      fix: "apt-get install docker.io (its 20.10 client has BuildKit built in), or install the buildx plugin",
      apt: ["docker.io"],
    };
  const how = (c: DockerClient) => `${describe(c)} (${c.buildx ? "buildx" : "built in"})`;
  if (first && !hasBuildKit(first))
    return {
      name,
      status: "ok",
      found: `${able.map(how).join(", ")}; first on PATH (${describe(first)}) has no buildx`,
      fix: `for DOCKER_BUILDKIT=1 docker build by hand, call ${able[0]?.path}`,
    };
  return { name, status: "ok", found: able.map(how).join(", ") };
}

/** buildx: optional (multi-platform builds then run one platform at a time through qemu). */
export function buildxCheck(clients: DockerClient[]): CheckResult {
  const withBuildx = clients.filter((c) => c.buildx);
  if (withBuildx.length > 0)
    return { name: "buildx", status: "ok", found: withBuildx.map(describe).join(", ") };
  return {
    name: "buildx",
    status: "warn",
    found: "no client has the buildx plugin",
    fix: "optional; not in Debian or npm: Docker's docker-buildx-plugin package where its apt repository is reachable",
  };
}

/** Compose: the v2 plugin of any client, or the v1 `docker-compose`. */
export async function composeCheck(
  ctx: DoctorContext,
  clients: DockerClient[],
): Promise<CheckResult> {
  const found: string[] = [];
  for (const c of clients)
    if (c.composeV2) found.push(`docker compose ${c.composeV2} (v2, ${c.path})`);
  const v1 = await which("docker-compose", ctx.env);
  if (v1) {
    const r = await run(v1, ["version", "--short"], ctx.env, 5000);
    found.push(
      `docker-compose ${semver(r.stdout) ?? r.stdout} (${r.stdout.startsWith("1.") ? "v1" : "v2"}, ${v1})`,
    );
  }
  if (found.length > 0) return { name: "compose", status: "ok", found: found.join(", ") };
  return {
    name: "compose",
    status: "missing",
    found: "neither docker compose (v2) nor docker-compose (v1)",
    fix: "apt-get install docker-compose",
    apt: ["docker-compose"],
  };
}
