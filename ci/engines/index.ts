/** Chooses and opens an engine: `--engine dagger|docker|auto`. */
import type { Engine, EngineSettings } from "../engine.js";
import { exec } from "../lib/process.js";
import { findOnPath } from "../lib/which.js";
import { openDagger } from "./dagger/index.js";
import { openDocker } from "./docker/index.js";
import { EngineUnavailable } from "./errors.js";

export { EngineUnavailable };

/** The dagger CLI the SDK may start a session with: the one named, else the one on PATH. */
export async function daggerCli(settings: EngineSettings): Promise<string | undefined> {
  return settings.dagger.cliBin || (await findOnPath("dagger"));
}

/** True when the Docker daemon answers within a few seconds. */
export async function dockerAnswers(settings: EngineSettings): Promise<boolean> {
  const r = await exec([settings.dockerBin, "version", "--format", "{{.Server.Version}}"], {
    timeoutMs: 10_000,
  });
  return r.exitCode === 0;
}

export interface OpenOptions {
  runId: string;
  /** false: re-run every step (--no-cache). */
  cache: boolean;
  settings: EngineSettings;
}

/** Opens the chosen engine, or throws EngineUnavailable saying what to do. */
export async function openEngine(
  choice: "dagger" | "docker" | "auto",
  o: OpenOptions,
): Promise<Engine> {
  const dagger = Boolean(o.settings.dagger.sessionPort) || Boolean(await daggerCli(o.settings));
  const kind =
    choice !== "auto"
      ? choice
      : dagger
        ? "dagger"
        : (await dockerAnswers(o.settings))
          ? "docker"
          : undefined;
  if (kind === "dagger") return openDagger({ ...o, cliBin: await daggerCli(o.settings) });
  if (kind === "docker") {
    if (!(await dockerAnswers(o.settings)))
      throw new EngineUnavailable(
        `--engine docker: the Docker daemon does not answer (${o.settings.dockerBin} version failed). Start dockerd, or check DOCKER_HOST.`,
      );
    return openDocker(o.runId, o);
  }
  throw new EngineUnavailable(
    "--engine auto: no engine available. Install Dagger (https://docs.dagger.io/install) and run " +
      "`dagger run npx tsx ci/main.ts`, or start a Docker daemon and use --engine docker.",
  );
}
