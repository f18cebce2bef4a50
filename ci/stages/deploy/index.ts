/**
 * deploy: the compose stack with the image just built, health-gated, with rollback to the previous tag
 * (rollout.ts). `--env <name>` layers docker/environments/<name>.yaml on the compose file; `--down` tears the
 * stack down, keeping named volumes unless `--volumes`, and needs no other stage. The daemon is whichever the
 * engine's `DockerClient` reaches (DOCKER_HOST, a docker context): nothing assumes it shares this disk.
 */
import { join } from "node:path";
import type { Secret } from "../../engine.js";
import type {
  Job,
  PlanContext,
  Stage,
  StageContext,
  StageOptions,
  StageResult,
} from "../../stage.js";
import type { BuildOutput } from "../build/index.js";
import { readManifest } from "../build/manifest.js";
import type { ScanOutput } from "../scan/index.js";
import { type ComposeProject, composeArgs, composeFor, detectCompose } from "./compose.js";
import {
  checkFitsHost,
  ENVIRONMENTS_DIR,
  environmentName,
  loadEnvironment,
} from "./environments.js";
import { down, deploy as rollOut } from "./rollout.js";
import { stateFile } from "./state.js";

/** The environment name: --env, else development. */
const envName = (options: StageOptions): string => options.env ?? "development";

/** The compose project: COMPOSE_PROJECT_NAME when set, else codex-father-<env>. */
export function projectName(ctx: Pick<PlanContext, "settings">, env: string): string {
  return ctx.settings.composeProject || `codex-father-${env}`;
}

/** The compose project of this run (compose v1 or v2 is found when it runs). */
function project(ctx: PlanContext, bin: string[]): ComposeProject {
  const env = envName(ctx.options);
  return {
    bin: composeFor(bin, ctx.settings.dockerContext),
    project: projectName(ctx, env),
    files: [ctx.config.deploy.composeFile, join(ENVIRONMENTS_DIR, `${env}.yaml`)],
  };
}

/** The compose commands it would run. */
async function describe(ctx: PlanContext): Promise<Job[]> {
  const args = (...a: string[]) =>
    `${composeArgs(project(ctx, ["docker", "compose"]), ...a).join(" ")}`;
  return [
    {
      kind: "action",
      name: ctx.options.down ? "down" : envName(ctx.options),
      lines: ctx.options.down
        ? [`${args("down", "--remove-orphans", ...(ctx.options.volumes ? ["--volumes"] : []))}`]
        : [
            `docker load of the build's tarball when the daemon lacks ${ctx.config.image.name}:sha-<short>`,
            `${args("build")}  (the config images, built by the daemon from the uploaded context)`,
            `${args("up", "-d", "--remove-orphans")}  (CODEX_IMAGE=${ctx.config.image.name}:sha-<short>)`,
            `wait healthy (${ctx.config.deploy.timeoutSeconds}s), check ${ctx.config.deploy.healthUrl} and the Prometheus target, else roll back`,
          ],
    },
  ];
}

async function run(
  ctx: StageContext,
  inputs: { build?: BuildOutput; scan?: ScanOutput } = {},
): Promise<StageResult<undefined>> {
  const env = environmentName(envName(ctx.options));
  const secrets: Record<string, Secret> = {};
  for (const [k, value] of Object.entries(ctx.settings.stackSecrets))
    secrets[k] = { name: k.toLowerCase(), value };
  const docker = ctx.engine.dockerClient({
    root: ctx.root,
    image: ctx.config.images.dockerCli,
    secrets,
  });
  const compose = project(ctx, await detectCompose(docker));
  if (ctx.options.down) {
    await down({
      docker,
      compose,
      volumes: ctx.options.volumes,
      log: ctx.log,
      env: ctx.settings.stackEnv ?? {},
    });
    return {
      status: "passed",
      detail: `${compose.project} down${ctx.options.volumes ? ", volumes removed" : ", named volumes kept"}`,
    };
  }
  const environment = await loadEnvironment(ctx.root, env);
  const ncpu = Number(
    (await docker.exec(["docker", "info", "--format", "{{.NCPU}}"])).stdout.trim(),
  );
  if (ncpu > 0) checkFitsHost(environment, ncpu);
  const manifest = inputs.build?.manifest ?? (await readManifest(ctx.root, "deploy"));
  const image = `${manifest.image}:${manifest.deployTag}`;
  const native = manifest.platforms.find((p) => p.platform === manifest.loaded);
  ctx.log(
    `${image} to ${compose.project} (${env}: log ${environment.logLevel}, max ${environment.maxConcurrent} sessions, ${environment.cpus} CPUs)`,
  );
  const outcome = await rollOut({
    docker,
    compose,
    image,
    environment: env,
    timeoutMs: ctx.config.deploy.timeoutSeconds * 1000,
    healthUrl: ctx.config.deploy.healthUrl,
    ...(native?.tarball ? { tarball: join(ctx.root, native.tarball) } : {}),
    env: ctx.settings.stackEnv ?? {},
    stateFile: stateFile(ctx.root, compose.project),
    log: ctx.log,
  });
  return {
    status: outcome.status === "deployed" ? "passed" : "failed",
    detail: outcome.detail,
  };
}

export const deploy = {
  name: "deploy",
  about: "the compose stack, gated on its health URL, rolled back when unhealthy",
  needs: ["build", "scan", "test"],
  standalone: (o: StageOptions) => o.down,
  describe,
  run,
} as const satisfies Stage<undefined, { build?: BuildOutput; scan?: ScanOutput }>;
