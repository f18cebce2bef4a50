/**
 * The compose command and its arguments. Works with `docker compose` v2 and Debian's `docker-compose` v1.29;
 * both read the same Compose-spec files.
 */
import type { DockerClient } from "../../engine.js";

/**
 * What docker/compose.yaml reads from the caller's environment, besides CODEX_IMAGE (the deploy sets it) and
 * the secrets below. Read once into `Settings.stackEnv` and handed to every compose command, so the stack is
 * configured the same on both engines (the Dagger engine's docker CLI container has no caller environment).
 */
export const STACK_VARIABLES = [
  "CODEX_ENVIRONMENT",
  "CODEX_LOG_LEVEL",
  "CODEX_MAX_CONCURRENT",
  "CODEX_MCP_COMMAND",
  "GIT_USER_NAME",
  "GIT_USER_EMAIL",
  "CODEX_BIND_ADDRESS",
  "CODEX_MCP_HOST_PORT",
  "CODEX_METRICS_HOST_PORT",
  "CODEX_HEALTH_INTERVAL",
  "PROMETHEUS_IMAGE",
  "PROMETHEUS_RETENTION",
  "PROMETHEUS_HOST_PORT",
  "MONITORING_HEALTH_INTERVAL",
  "ALERTMANAGER_IMAGE",
  "ALERTMANAGER_HOST_PORT",
  "GRAFANA_IMAGE",
  "GRAFANA_HOST_PORT",
] as const;

/** What docker/compose.yaml reads that is a secret: passed as engine secrets, never as plain variables. */
export const STACK_SECRETS = [
  "GITHUB_TOKEN",
  "ALERT_SLACK_WEBHOOK_URL",
  "GRAFANA_ADMIN_PASSWORD",
] as const;

/** A compose invocation for one project and its files. */
export interface ComposeProject {
  /** argv prefix: ["docker", "compose"] or ["docker-compose"]. */
  bin: string[];
  /** Compose project name (`-p`). */
  project: string;
  /** Compose files, base first, overrides after. */
  files: string[];
}

/** The first compose that answers: `docker compose` (v2), then `docker-compose` (v1). */
export async function detectCompose(docker: DockerClient): Promise<string[]> {
  for (const bin of [["docker", "compose"], ["docker-compose"]]) {
    const r = await docker.exec([...bin, "version"]);
    if (r.exitCode === 0) return bin;
  }
  throw new Error(
    "deploy: no compose found. Install the compose v2 plugin (docker compose) or docker-compose (Debian: apt-get install docker-compose).",
  );
}

/**
 * The compose argv prefix aimed at the daemon the docker client uses. docker-compose v1 ignores
 * DOCKER_CONTEXT (it reads DOCKER_HOST, its `--context` flag and the current context), so without the flag
 * it would deploy to another daemon than the one `docker` checks; v2 is a docker CLI plugin and follows it.
 */
export function composeFor(bin: string[], dockerContext?: string): string[] {
  return bin[0] === "docker-compose" && dockerContext ? [...bin, "--context", dockerContext] : bin;
}

/** argv for `compose <args…>` on the project. */
export function composeArgs(c: ComposeProject, ...args: string[]): string[] {
  return [...c.bin, "-p", c.project, ...c.files.flatMap((f) => ["-f", f]), ...args];
}
