/** Chooses and opens an engine: `--engine dagger|docker|auto`. */
import { spawnSync } from "node:child_process";
import type { EngineChoice } from "../cli.js";
import type { Engine } from "../engine.js";
import { DOCKER_BIN, onPath } from "../host.js";
import { EngineUnavailable } from "./errors.js";

export { EngineUnavailable };

/** True inside `dagger run` (a session is present) or when the dagger CLI is installed. */
export function daggerAvailable(): boolean {
  return Boolean(process.env.DAGGER_SESSION_PORT || onPath("dagger"));
}

/** True when the Docker daemon answers within a few seconds. */
export function dockerAnswers(): boolean {
  const r = spawnSync(DOCKER_BIN, ["version", "--format", "{{.Server.Version}}"], {
    stdio: "ignore",
    timeout: 10_000,
  });
  return r.status === 0;
}

/** Opens the chosen engine, or throws EngineUnavailable saying what to do. */
export async function openEngine(
  choice: EngineChoice,
  runId: string,
  opts: { cache: boolean } = { cache: true },
): Promise<Engine> {
  const kind =
    choice !== "auto"
      ? choice
      : daggerAvailable()
        ? "dagger"
        : dockerAnswers()
          ? "docker"
          : undefined;
  if (kind === "dagger") return (await import("./dagger.js")).openDagger({ ...opts, runId });
  if (kind === "docker") {
    if (!dockerAnswers())
      throw new EngineUnavailable(
        `--engine docker: the Docker daemon does not answer (${DOCKER_BIN} version failed). Start dockerd, or check DOCKER_HOST.`,
      );
    return (await import("./docker.js")).openDocker(runId, opts);
  }
  throw new EngineUnavailable(
    "--engine auto: no engine available. Install Dagger (https://docs.dagger.io/install) and run " +
      "`dagger run npx tsx ci/main.ts`, or start a Docker daemon and use --engine docker.",
  );
}
