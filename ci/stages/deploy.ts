/**
 * Stage `deploy`: the compose stack with the image just built, health-gated, with rollback to
 * the previous tag (ci/deploy/deploy.ts). `--env <name>` layers docker/environments/<name>.yaml
 * on the compose file; `--down` tears the stack down, keeping named volumes unless `--volumes`.
 * Docker engine: the host's docker CLI directly. Dagger: the docker CLI image with the host socket.
 */
import { join } from "node:path";
import { readManifest } from "../build/manifest.js";
import { type ComposeProject, detectCompose } from "../deploy/compose.js";
import { deploy, down } from "../deploy/deploy.js";
import {
  checkFitsHost,
  ENVIRONMENTS_DIR,
  environmentName,
  loadEnvironment,
} from "../deploy/environments.js";
import { engineDocker, type HostDocker, localDocker } from "../deploy/host.js";
import { stateFile } from "../deploy/state.js";
import type { Secret } from "../engine.js";
import { DOCKER_BIN } from "../host.js";
import type { PlanFn, StageContext, StageFn } from "../stage.js";

/** Secrets compose passes to the stack, forwarded from the caller's environment when set. */
const STACK_SECRETS = ["GITHUB_TOKEN"];

/** The environment name: --env, else development. */
function envName(ctx: Pick<StageContext, "options">): string {
  return ctx.options.env ?? "development";
}

/** The compose project: COMPOSE_PROJECT_NAME when set, else codex-father-<env>. */
export function projectName(env: string): string {
  return process.env.COMPOSE_PROJECT_NAME || `codex-father-${env}`;
}

/** How this engine reaches the daemon. */
function hostDocker(ctx: StageContext): { docker: HostDocker; bin: string } {
  if (ctx.engine.name === "docker") return { docker: localDocker(ctx.root), bin: DOCKER_BIN };
  const secretEnv: Record<string, Secret> = {};
  for (const k of STACK_SECRETS) {
    const value = process.env[k];
    if (value) secretEnv[k] = { name: k.toLowerCase(), value };
  }
  return {
    docker: engineDocker({
      engine: ctx.engine,
      image: ctx.config.images.dockerCli,
      root: ctx.root,
      secretEnv,
    }),
    bin: "docker",
  };
}

/** The stage. */
export const run: StageFn = async (ctx) => {
  const env = environmentName(envName(ctx));
  const { docker, bin } = hostDocker(ctx);
  const compose: ComposeProject = {
    bin: await detectCompose(docker, bin),
    project: projectName(env),
    files: [ctx.config.deploy.composeFile, join(ENVIRONMENTS_DIR, `${env}.yaml`)],
  };
  if (ctx.options.down) {
    await down({ docker, compose, volumes: ctx.options.volumes, log: ctx.log });
    return {
      status: "passed",
      detail: `${compose.project} down${ctx.options.volumes ? ", volumes removed" : ", named volumes kept"}`,
    };
  }
  const environment = await loadEnvironment(ctx.root, env);
  const ncpu = Number((await docker.exec([bin, "info", "--format", "{{.NCPU}}"])).stdout.trim());
  if (ncpu > 0) checkFitsHost(environment, ncpu);
  const manifest = await readManifest(ctx.root, "deploy");
  const image = `${manifest.image}:${manifest.deployTag}`;
  const native = manifest.platforms.find((p) => p.platform === manifest.loaded);
  ctx.log(
    `${image} to ${compose.project} (${env}: log ${environment.logLevel}, max ${environment.maxConcurrent} sessions, ${environment.cpus} CPUs)`,
  );
  const outcome = await deploy({
    docker,
    compose,
    image,
    environment: env,
    timeoutMs: ctx.config.deploy.timeoutSeconds * 1000,
    healthUrl: ctx.config.deploy.healthUrl,
    ...(native?.tarball && ctx.engine.name === "docker"
      ? { tarball: join(ctx.root, native.tarball) }
      : {}),
    stateFile: stateFile(ctx.root, compose.project),
    log: ctx.log,
  });
  return { status: outcome.status === "deployed" ? "passed" : "failed", detail: outcome.detail };
};

/** The commands it would run. */
export const plan: PlanFn = (ctx) => {
  const env = envName(ctx);
  const files = `-f ${ctx.config.deploy.composeFile} -f ${ENVIRONMENTS_DIR}/${env}.yaml`;
  return [
    {
      name: ctx.options.down ? "down" : env,
      image: ctx.config.images.dockerCli,
      steps: ctx.options.down
        ? [
            `docker compose -p ${projectName(env)} ${files} down${ctx.options.volumes ? " --volumes" : ""}`,
          ]
        : [
            `docker compose -p ${projectName(env)} ${files} up -d  (CODEX_IMAGE=${ctx.config.image.name}:sha-<short>)`,
            `wait healthy (${ctx.config.deploy.timeoutSeconds}s), check ${ctx.config.deploy.healthUrl} and the Prometheus target, else roll back`,
          ],
    },
  ];
};
