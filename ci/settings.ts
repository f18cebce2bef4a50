/** The environment, read once at the top: what stages, engines and the summary are told about it. */
import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import type { EngineSettings } from "./engine.js";
import { chooseDockerBin } from "./lib/docker-bin.js";
import type { Settings } from "./stage.js";
import { STACK_SECRETS, STACK_VARIABLES } from "./stages/deploy/compose.js";

/** A setting that cannot work (an unreadable CA file): exit 2. */
export class SettingsError extends Error {
  override name = "SettingsError";
}

/** Everything the run reads from its environment. */
export interface RunSettings {
  stages: Settings;
  engine: EngineSettings;
  /** `GITHUB_STEP_SUMMARY`: where the Markdown summary is appended. */
  stepSummary?: string;
  /** `CODEX_CI_RUN_ID`: names the run's resources (label codex-ci.run), e.g. after the CI job; else random. */
  runId?: string;
}

/** What the environment says about where output goes: read once, for every command. */
export interface OutputSettings {
  /** `GITHUB_ACTIONS=true`: a workflow log, which reads groups and annotations. */
  github: boolean;
  /** `NO_COLOR` set and not empty (https://no-color.org). */
  noColor: boolean;
  /** `TERM=dumb`: a terminal that cannot move its cursor. */
  dumbTerminal: boolean;
}

/** Reads the output settings from `env`. */
export function readOutputSettings(env: NodeJS.ProcessEnv): OutputSettings {
  return {
    github: env.GITHUB_ACTIONS === "true",
    noColor: Boolean(env.NO_COLOR),
    dumbTerminal: env.TERM === "dumb",
  };
}

/** The CA bundle must be a readable file; a directory or a typo is named with where it came from. */
function caFileOf(file: string, from: string): string {
  let isFile = false;
  try {
    isFile = statSync(file).isFile();
  } catch (e) {
    throw new SettingsError(
      `${from}: cannot read CA bundle "${file}" (${(e as NodeJS.ErrnoException).code})`,
    );
  }
  if (!isFile) throw new SettingsError(`${from}: "${file}" is not a file; give a PEM bundle`);
  return resolve(file);
}

/** A secret read from a file on the caller's disk (it goes to the daemon as a value); errors name the file, never the content. */
function secretFileOf(file: string, from: string): string {
  try {
    return readFileSync(file, "utf8").trim();
  } catch (e) {
    throw new SettingsError(
      `${from}: cannot read "${file}" (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

/** Reads the settings from `env`; `caFile` is `--ca-file`, which wins over NODE_EXTRA_CA_CERTS. */
export async function readSettings(env: NodeJS.ProcessEnv, caFile?: string): Promise<RunSettings> {
  const ca = caFile
    ? caFileOf(caFile, "--ca-file")
    : env.NODE_EXTRA_CA_CERTS
      ? caFileOf(env.NODE_EXTRA_CA_CERTS, "NODE_EXTRA_CA_CERTS")
      : undefined;
  const set = (v: string | undefined) => (v ? v : undefined);
  const runId = env.CODEX_CI_RUN_ID;
  if (runId !== undefined && !/^[a-z0-9][a-z0-9-]{0,39}$/.test(runId))
    throw new SettingsError(
      `CODEX_CI_RUN_ID: "${runId}" is not 1 to 40 lowercase letters, digits and dashes`,
    );
  const stackSecrets: Record<string, string> = {};
  for (const k of STACK_SECRETS) if (env[k]) stackSecrets[k] = env[k];
  if (!stackSecrets.ALERT_SLACK_WEBHOOK_URL && env.ALERT_SLACK_WEBHOOK_URL_FILE)
    stackSecrets.ALERT_SLACK_WEBHOOK_URL = secretFileOf(
      env.ALERT_SLACK_WEBHOOK_URL_FILE,
      "ALERT_SLACK_WEBHOOK_URL_FILE",
    );
  // Set but empty counts: an empty host port is one the daemon picks.
  const stackEnv: Record<string, string> = {};
  for (const k of STACK_VARIABLES) {
    const v = env[k];
    if (v !== undefined) stackEnv[k] = v;
  }
  return {
    stages: {
      ...(ca ? { caFile: ca } : {}),
      ci: {
        sha: set(env.GITHUB_SHA),
        headRef: set(env.GITHUB_HEAD_REF),
        refType: set(env.GITHUB_REF_TYPE),
        refName: set(env.GITHUB_REF_NAME),
        repository: set(env.GITHUB_REPOSITORY),
        serverUrl: set(env.GITHUB_SERVER_URL),
        sourceDateEpoch: set(env.SOURCE_DATE_EPOCH),
      },
      registry: {
        repository: set(env.CODEX_REGISTRY),
        username: set(env.CODEX_REGISTRY_USERNAME),
        password: set(env.CODEX_REGISTRY_PASSWORD),
        passwordFile: set(env.CODEX_REGISTRY_PASSWORD_FILE),
      },
      ...(env.COMPOSE_PROJECT_NAME ? { composeProject: env.COMPOSE_PROJECT_NAME } : {}),
      ...(env.DOCKER_CONTEXT && !env.DOCKER_HOST ? { dockerContext: env.DOCKER_CONTEXT } : {}),
      stackSecrets,
      stackEnv,
    },
    engine: {
      dockerBin: await chooseDockerBin(env),
      ...(env.DOCKER_HOST ? { dockerHost: env.DOCKER_HOST } : {}),
      dagger: {
        sessionPort: set(env.DAGGER_SESSION_PORT),
        sessionToken: set(env.DAGGER_SESSION_TOKEN),
        cliBin: set(env._EXPERIMENTAL_DAGGER_CLI_BIN),
        ...(env.CODEX_CI_DAGGER_MODULE === "1" ? { moduleRunner: true } : {}),
      },
    },
    ...(env.GITHUB_STEP_SUMMARY ? { stepSummary: env.GITHUB_STEP_SUMMARY } : {}),
    ...(runId ? { runId } : {}),
  };
}
