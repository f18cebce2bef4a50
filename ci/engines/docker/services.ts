/**
 * Services of a run on the Docker engine: containers on the run's own network, reached by hostname. A
 * service that needs root capabilities (a Docker daemon) gets --privileged, or, where the host refuses that
 * (a sandbox that cannot apply every capability), the narrower set that still runs nested containers.
 */
import { sleep } from "zx";
import type { ServiceSpec } from "../../engine.js";
import type { DockerCli } from "./cli.js";
import type { Containers } from "./container.js";

/**
 * What a nested Docker daemon needs when --privileged cannot be had. SYS_PTRACE: without it the nested runc
 * cannot join the namespaces of a container running as non-root ("error executing setns process"), so
 * `docker exec`, and every healthcheck, fails for the app (user codex).
 */
export const NESTED_DAEMON_FLAGS = [
  "--cap-add",
  "SYS_ADMIN",
  "--cap-add",
  "NET_ADMIN",
  "--cap-add",
  "SYS_PTRACE",
  "--security-opt",
  "seccomp=unconfined",
  "--security-opt",
  "apparmor=unconfined",
  "--security-opt",
  "systempaths=unconfined",
  "--mount",
  "type=bind,src=/sys/fs/cgroup,dst=/sys/fs/cgroup",
];

/** How a privileged start fails where the host will not grant every capability. */
const PRIVILEGE_REFUSED =
  /unable to apply caps|operation not permitted|privileged mode is (disabled|not allowed)/i;

/** A started service: its container, and how to stop it. */
export interface StartedService {
  container: string;
  stop(): Promise<void>;
}

/**
 * Starts `spec` on `network`: privileged first when asked, else the nested-daemon flags, saying which; then
 * waits for `ready` and copies `preload` images in. A service that never gets ready is removed.
 */
export async function startService(
  docker: DockerCli,
  containers: Containers,
  wanted: ServiceSpec,
  network: string,
  log: (line: string) => void,
): Promise<StartedService> {
  const spec = await ownCaches(docker, containers, wanted, log);
  const start = (runtime: string[]) =>
    containers.start(spec, `svc-${spec.hostname}`, spec.args ?? [], {
      hostname: spec.hostname,
      network,
      runtime,
      ...(spec.useEntrypoint !== undefined ? { useEntrypoint: spec.useEntrypoint } : {}),
    });
  let name: string;
  if (!spec.privileged) name = await start([]);
  else
    try {
      name = await start(["--privileged"]);
      log(`service ${spec.hostname}: ${spec.image}, --privileged`);
    } catch (e) {
      const why = (e as Error).message;
      if (!PRIVILEGE_REFUSED.test(why)) throw e;
      log(
        `service ${spec.hostname}: --privileged refused here (${why.split(" | ")[0]}); using SYS_ADMIN, NET_ADMIN and SYS_PTRACE, seccomp, apparmor and systempaths unconfined, /sys/fs/cgroup read-write`,
      );
      name = await start(NESTED_DAEMON_FLAGS);
    }
  const service = { container: name, stop: () => containers.remove(name) };
  try {
    if (spec.ready) await waitReady(docker, name, spec, 90_000);
    if (spec.preload?.length) await preload(docker, name, spec, log);
  } catch (e) {
    await service.stop();
    throw e;
  }
  return service;
}

/**
 * A service's cache volumes are its own while it runs: a Docker daemon's data directory cannot be shared (the
 * second daemon waits on containerd's lock and dies). A volume a running container holds, another run's
 * service on this daemon, is swapped for a fresh volume of this run, removed with it (Dagger's
 * `CacheSharingMode.Private`, on the Docker engine).
 */
async function ownCaches(
  docker: DockerCli,
  containers: Containers,
  spec: ServiceSpec,
  log: (line: string) => void,
): Promise<ServiceSpec> {
  const caches: Record<string, string> = {};
  for (const [path, vol] of Object.entries(spec.caches ?? {})) {
    const users = await docker.try(["ps", "-q", "--filter", `volume=${vol}`], { kind: "short" });
    if (users.stdout.trim() === "") caches[path] = vol;
    else {
      caches[path] = await containers.runVolume(`${spec.hostname}-cache`);
      log(
        `service ${spec.hostname}: cache volume ${vol} is in use by another run; using ${caches[path]} for this run (cold)`,
      );
    }
  }
  return spec.caches ? { ...spec, caches } : spec;
}

/** Runs `spec.ready` in the service until it succeeds; on time out, fails with the service's last log lines. */
async function waitReady(docker: DockerCli, name: string, spec: ServiceSpec, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await docker.try(["exec", name, ...(spec.ready ?? [])], { timeoutMs: 15_000 });
    if (r.exitCode === 0) return;
    const running = await docker.try(["inspect", "--format", "{{.State.Running}}", name]);
    if (running.stdout.trim() !== "true" || Date.now() > deadline) {
      const logs = await docker.try(["logs", "--tail", "15", name]);
      const tail = `${logs.stdout}${logs.stderr}`.trim().split("\n").slice(-15).join("\n");
      throw new Error(
        `service ${spec.hostname} (${spec.image}) did not get ready (${spec.ready?.join(" ")}): ${r.stderr.trim() || `exit ${r.exitCode}`}\n${tail}`,
      );
    }
    await sleep(500);
  }
}

/**
 * Copies the images the service's daemon lacks from this engine's daemon (`docker save | docker load`).
 * Its data lives in a cache volume, so this happens once per volume; an image this daemon lacks too is left
 * for the service to pull.
 */
async function preload(
  docker: DockerCli,
  name: string,
  spec: ServiceSpec,
  log: (l: string) => void,
) {
  const wanted = [...new Set(spec.preload)];
  const has = async (args: string[]) => (await docker.try(args)).exitCode === 0;
  const copied: string[] = [];
  const absent: string[] = [];
  for (const ref of wanted) {
    if (await has(["exec", name, "docker", "image", "inspect", ref])) continue;
    if (!(await has(["image", "inspect", ref]))) {
      absent.push(ref);
      continue;
    }
    const r = await docker
      .start(["save", ref])
      .pipe(docker.start(["exec", "-i", name, "docker", "load", "--quiet"]));
    if (r.exitCode !== 0)
      throw new Error(`loading ${ref} into service ${spec.hostname} failed: ${r.stderr.trim()}`);
    copied.push(ref);
  }
  const kept = wanted.length - copied.length - absent.length;
  log(
    `service ${spec.hostname}: ${copied.length ? `loaded ${copied.join(", ")} (docker save | docker load)` : "no image to load"}; ${kept} already there${absent.length ? `; not here to load, left to pull: ${absent.join(", ")}` : ""}`,
  );
}
