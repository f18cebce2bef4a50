/**
 * Health-gated compose deploy with rollback, on one host (the design's blue-green, 5.1, on
 * compose): load the image, build the config images, `up -d` with the new tag, wait for every
 * service to be healthy, check the app's /health and that Prometheus scrapes it, record the tag.
 * On failure print the failing services' logs and healthcheck output and go back to the previous
 * tag. Named volumes are never removed here, so sessions and data survive deploys and rollbacks.
 * Everything goes through `DockerClient` to whichever daemon it reaches: files travel as build
 * contexts and image tarballs, checks run through `docker exec`, so the daemon may be remote.
 */
import { sleep } from "zx";
import type { DockerClient, LineSink } from "../../engine.js";
import { type ComposeProject, composeArgs } from "./compose.js";
import { healthcheckOutput, type Inspect, judge, type ServiceHealth } from "./health.js";
import { readState, recordDeploy } from "./state.js";

/** What a deploy needs. */
export interface DeployOptions {
  docker: DockerClient;
  compose: ComposeProject;
  /** Image to deploy, e.g. "codex-father:sha-1a2b3c4". */
  image: string;
  environment: string;
  /** Budget for the stack to become healthy and pass the checks. */
  timeoutMs: number;
  /** The app's health URL as seen inside the app container (its port and path are used). */
  healthUrl: string;
  /** Image tarball to `docker load` when the image is not in the daemon yet. */
  tarball?: string;
  /** Variables every compose command gets (ports, bind address, base images; see STACK_VARIABLES). */
  env?: Record<string, string>;
  stateFile: string;
  log: LineSink;
  /** Poll interval; default 2 s. */
  pollMs?: number;
}

/** How it ended. */
export interface DeployOutcome {
  status: "deployed" | "rolled-back" | "failed";
  image: string;
  /** The image serving now. */
  serving?: string;
  detail: string;
}

/** Thrown for a failed docker command: names the command, never its environment. */
async function must(
  docker: DockerClient,
  args: string[],
  env?: Record<string, string>,
): Promise<string> {
  const r = await docker.exec(args, env ? { env } : {});
  if (r.exitCode !== 0)
    throw new Error(
      `\`${args.join(" ")}\` exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split("\n").slice(-5).join(" | ")}`,
    );
  return r.stdout;
}

/** The environment of a compose command: the stack's variables, and the image the app runs. */
const composeEnv = (o: DeployOptions, image = o.image): Record<string, string> => ({
  ...o.env,
  CODEX_IMAGE: image,
});

/** Container IDs of the project (all services, or one). */
async function containers(o: DeployOptions, service?: string): Promise<string[]> {
  const out = await must(
    o.docker,
    composeArgs(o.compose, "ps", "-q", ...(service ? [service] : [])),
    composeEnv(o),
  );
  return out
    .split("\n")
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `docker inspect` of the given containers. */
async function inspect(o: DeployOptions, ids: string[]): Promise<Inspect[]> {
  if (ids.length === 0) return [];
  return JSON.parse(await must(o.docker, ["docker", "inspect", ...ids])) as Inspect[];
}

/** The image the app runs now, if the stack is up. */
async function currentImage(o: DeployOptions): Promise<string | undefined> {
  const [app] = await inspect(o, await containers(o, "app").catch(() => []));
  return app?.Config.Image;
}

/**
 * Makes sure the daemon has the image, loading the tarball when given (a remote daemon lacks what was built
 * elsewhere). The tarball holds the build's own reference (Docker engine: a run-scoped tag; Dagger: an OCI
 * image without one), so the loaded image is tagged as `o.image` for compose.
 */
async function ensureImage(o: DeployOptions): Promise<void> {
  const has = async () =>
    (await o.docker.exec(["docker", "image", "inspect", o.image])).exitCode === 0;
  if (await has()) return;
  if (!o.tarball)
    throw new Error(
      `deploy: image ${o.image} is not in the Docker daemon deployed to, and the build left no tarball to load; run the build stage first`,
    );
  o.log(`loading ${o.tarball} (${o.image} is not in the daemon)`);
  const r = await o.docker.load(o.tarball);
  if (r.exitCode !== 0)
    throw new Error(
      `docker load of ${o.tarball} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim()}`,
    );
  const loaded = loadedImages(r.stdout);
  if (loaded[0] && loaded[0] !== o.image)
    await must(o.docker, ["docker", "tag", loaded[0], o.image]);
  if (!(await has()))
    throw new Error(
      `deploy: ${o.tarball} was loaded (${loaded.join(", ") || "no image reported"}) but ${o.image} is still not in the daemon`,
    );
}

/** The references `docker load` reports: "Loaded image: <ref>" or "Loaded image ID: sha256:<id>". */
export function loadedImages(stdout: string): string[] {
  return [...stdout.matchAll(/^Loaded image(?: ID)?: (\S+)\s*$/gm)].map((m) => m[1] as string);
}

/** The last lines of a command's output, on one line. */
const tail = (r: { stdout: string; stderr: string }): string =>
  `${r.stderr}${r.stdout}`
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-4)
    .join(" | ");

/**
 * `compose build`: the config images (Prometheus, Alertmanager, Grafana with their files copied in), built by
 * the daemon deployed to from the uploaded context, so no service needs a bind mount of the caller's disk.
 * Compose builds only services with a `build:` section; the app's image is the one given.
 */
async function buildConfig(o: DeployOptions, deadline: number): Promise<string | undefined> {
  o.log("compose build (config images)");
  const r = await o.docker.exec(composeArgs(o.compose, "build"), {
    env: composeEnv(o),
    timeoutMs: Math.max(deadline - Date.now(), 1000),
  });
  return r.exitCode === 0 ? undefined : `compose build failed (exit ${r.exitCode}): ${tail(r)}`;
}

/** `up -d` with the image, bounded by the deadline (compose may wait on depends_on); returns the problem, if any. */
async function up(o: DeployOptions, image: string, deadline: number): Promise<string | undefined> {
  o.log(`compose up -d (${image})`);
  const r = await o.docker.exec(composeArgs(o.compose, "up", "-d", "--remove-orphans"), {
    env: composeEnv(o, image),
    timeoutMs: Math.max(deadline - Date.now(), 1000),
  });
  return r.exitCode === 0 ? undefined : `compose up failed (exit ${r.exitCode}): ${tail(r)}`;
}

/** Waits until every service is ready, one fails for good, or time runs out. */
async function waitReady(
  o: DeployOptions,
  deadline: number,
): Promise<{ ok: boolean; health: ServiceHealth[]; inspects: Inspect[] }> {
  let last: { health: ServiceHealth[]; inspects: Inspect[] } = { health: [], inspects: [] };
  for (;;) {
    const inspects = await inspect(o, await containers(o));
    const health = judge(inspects);
    last = { health, inspects };
    if (health.length > 0 && health.every((h) => h.ready)) return { ok: true, ...last };
    if (health.some((h) => h.failed) || Date.now() >= deadline) return { ok: false, ...last };
    await sleep(o.pollMs ?? 2000);
  }
}

/** Runs a fetch inside the app container (its network sees the app and Prometheus by name). */
async function fetchInApp(
  o: DeployOptions,
  appId: string,
  url: string,
): Promise<{ ok: boolean; body: string }> {
  const script =
    "fetch(process.argv[1],{signal:AbortSignal.timeout(5000)}).then(async r=>{process.stdout.write(await r.text());process.exit(r.ok?0:1)},e=>{process.stdout.write(String(e));process.exit(1)})";
  const r = await o.docker.exec(["docker", "exec", appId, "node", "-e", script, url]);
  return { ok: r.exitCode === 0, body: (r.stdout || r.stderr).trim() };
}

/** Checks /health on the app and that Prometheus reports the app target up; retries until the deadline. */
async function verify(o: DeployOptions, deadline: number): Promise<string | undefined> {
  const [appId] = await containers(o, "app");
  if (!appId) return "no app container";
  const health = new URL(o.healthUrl);
  const local = `http://127.0.0.1:${health.port || 80}${health.pathname}`;
  let problem = "";
  for (;;) {
    const h = await fetchInApp(o, appId, local);
    if (!h.ok) problem = `app ${health.pathname} failed: ${h.body.slice(0, 200)}`;
    else {
      const t = await fetchInApp(o, appId, "http://prometheus:9090/api/v1/targets?state=active");
      const up = t.ok && appTargetUp(t.body, health.port || "80");
      if (up) return undefined;
      problem = t.ok
        ? "Prometheus does not report the app target up yet"
        : `Prometheus API failed: ${t.body.slice(0, 200)}`;
    }
    if (Date.now() >= deadline) return problem;
    await sleep(o.pollMs ?? 2000);
  }
}

/** True when Prometheus's /api/v1/targets lists a scrape of app:<port> that is up. */
export function appTargetUp(body: string, port: string): boolean {
  try {
    const targets =
      (JSON.parse(body) as { data?: { activeTargets?: { scrapeUrl: string; health: string }[] } })
        .data?.activeTargets ?? [];
    return targets.some((t) => new URL(t.scrapeUrl).host === `app:${port}` && t.health === "up");
  } catch {
    return false;
  }
}

/** Prints the last log lines and healthcheck output of each service that is not ready. */
async function report(
  o: DeployOptions,
  health: ServiceHealth[],
  inspects: Inspect[],
): Promise<string[]> {
  const failing = health.filter((h) => !h.ready);
  for (const h of failing) {
    const i = inspects.find((x) => x.Name.replace(/^\//, "") === h.container);
    o.log(`service ${h.service} (${h.container}) is ${h.status}; last log lines:`);
    const logs = await o.docker.exec(["docker", "logs", "--tail", "30", h.container]);
    for (const line of `${logs.stdout}${logs.stderr}`.trimEnd().split("\n")) o.log(`  | ${line}`);
    if (i) {
      o.log(`service ${h.service} healthcheck output:`);
      for (const line of healthcheckOutput(i).split("\n")) o.log(`  | ${line}`);
    }
  }
  return failing.map((h) => `${h.service} ${h.status}`);
}

/** Deploys `o.image`; on failure rolls back to the previously deployed image. Never removes volumes. */
export async function deploy(o: DeployOptions): Promise<DeployOutcome> {
  const base = { project: o.compose.project, environment: o.environment };
  await ensureImage(o);
  const previous = (await currentImage(o)) ?? (await readState(o.stateFile))?.image;
  o.log(previous ? `previously deployed: ${previous}` : "no previous deployment");
  const deadline = Date.now() + o.timeoutMs;
  const unbuilt = await buildConfig(o, deadline);
  if (unbuilt) {
    // Nothing was changed on the daemon: whatever ran before still runs.
    o.log(`deploy of ${o.image} failed: ${unbuilt}`);
    await recordDeploy(o.stateFile, base, previous ?? "", {
      image: o.image,
      at: new Date().toISOString(),
      result: "failed",
    });
    return {
      status: "failed",
      image: o.image,
      ...(previous ? { serving: previous } : {}),
      detail: `${unbuilt}; the stack was left as it was`,
    };
  }
  let problem = await up(o, o.image, deadline);
  const ready = await waitReady(o, problem ? Date.now() : deadline);
  if (!ready.ok) {
    const bad = await report(o, ready.health, ready.inspects);
    const gaveUp = ready.health.some((h) => h.failed);
    problem ??= !bad.length
      ? "no containers started"
      : gaveUp
        ? `health gate failed: ${bad.join(", ")}`
        : `not healthy within ${o.timeoutMs / 1000}s: ${bad.join(", ")}`;
  } else problem ??= await verify(o, deadline);
  const at = new Date().toISOString();
  if (!problem) {
    await recordDeploy(o.stateFile, base, o.image, { image: o.image, at, result: "deployed" });
    return {
      status: "deployed",
      image: o.image,
      serving: o.image,
      detail: `${o.image} healthy, scraped by Prometheus`,
    };
  }
  o.log(`deploy of ${o.image} failed: ${problem}`);
  if (!previous || previous === o.image) {
    await recordDeploy(o.stateFile, base, previous ?? "", { image: o.image, at, result: "failed" });
    return {
      status: "failed",
      image: o.image,
      detail: `${problem}; no previous deployment to roll back to (stack left for inspection)`,
    };
  }
  o.log(`rolling back to ${previous}`);
  const backDeadline = Date.now() + o.timeoutMs;
  const upAgain = await up(o, previous, backDeadline);
  if (upAgain) o.log(upAgain);
  const back = await waitReady(o, backDeadline);
  if (!back.ok) await report(o, back.health, back.inspects);
  // The record keeps `previous` as the image to go back to next time, and says whether it serves now.
  await recordDeploy(o.stateFile, base, previous, {
    image: o.image,
    at,
    result: back.ok ? "rolled-back" : "rollback-failed",
  });
  if (back.ok)
    return {
      status: "rolled-back",
      image: o.image,
      serving: previous,
      detail: `${problem}; rolled back to ${previous}`,
    };
  return {
    status: "failed",
    image: o.image,
    detail: `${problem}; rollback to ${previous} is not healthy either${upAgain ? ` (${upAgain})` : ""}; nothing healthy serves`,
  };
}

/** `deploy --down`: removes the stack; named volumes stay unless `volumes`. */
export async function down(o: {
  docker: DockerClient;
  compose: ComposeProject;
  volumes: boolean;
  log: LineSink;
  env?: Record<string, string>;
}): Promise<void> {
  o.log(
    `compose down${o.volumes ? " --volumes (named volumes removed)" : " (named volumes kept)"}`,
  );
  await must(
    o.docker,
    composeArgs(o.compose, "down", "--remove-orphans", ...(o.volumes ? ["--volumes"] : [])),
    // compose interpolates the file even to tear down; any image name will do.
    { ...o.env, CODEX_IMAGE: "codex-father:down" },
  );
}
