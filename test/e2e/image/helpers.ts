/**
 * Shared by the image and stack e2e suites: build the app image once per run, polling, health. Remote-daemon
 * safe: the image is built from an uploaded context, ports are published where test/helpers/docker.ts says.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { $ } from "zx";

/** Debian's client with BuildKit built in (the v28 client on PATH has no buildx). */
export const DOCKER = "/usr/bin/docker";
/** A prefix unique to this test run, so nothing collides with other runs on the same daemon. */
export const RUN_ID = `i3e2e${process.pid}${randomBytes(3).toString("hex")}`;
/** The app image tag this run builds and removes. */
export const IMAGE = `codex-father:${RUN_ID}`;
/** A marker appended to the build secret; it must never appear in the image. */
export const SECRET_MARKER = `codex-build-secret-${randomBytes(8).toString("hex")}`;

let built: Promise<void> | undefined;
let removeAtExit = false;

/** Builds docker/Dockerfile as IMAGE with the given file as the npm_ca secret, unless this process already did and it is still there. */
export async function buildImage(secretFile: string): Promise<void> {
  const present =
    (await $({ quiet: true, nothrow: true })`${DOCKER} image inspect ${IMAGE}`).exitCode === 0;
  if (!present) built = undefined; // removed by hand, or a failed build
  built ??= (async () => {
    // Shared by the image and stack suites of this process (uvu runs a kind's files in one): removed at exit,
    // not after each suite, so the second does not build it again.
    if (!removeAtExit) {
      removeAtExit = true;
      process.once("exit", () => spawnSync(DOCKER, ["rmi", IMAGE], { stdio: "ignore" }));
    }
    await $({
      quiet: true,
      env: { ...process.env, DOCKER_BUILDKIT: "1" },
    })`${DOCKER} build --quiet ${[
      "--network=host",
      "--secret",
      `id=npm_ca,src=${secretFile}`,
      "--build-arg",
      "OCI_REVISION=e2e",
      "--build-arg",
      `OCI_VERSION=${RUN_ID}`,
      "-f",
      "docker/Dockerfile",
      "-t",
      IMAGE,
      ".",
    ]}`;
  })();
  return built;
}

/** Polls `fn` until it returns a value other than undefined, or throws after `ms` with `what` and the last state. */
export async function waitFor<T>(
  what: string,
  ms: number,
  fn: () => Promise<T | undefined>,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${ms / 1000}s waiting for ${what}${last ? `: ${String(last)}` : ""}`,
      );
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** A container's health status ("starting", "healthy", "unhealthy") or its state when it has no healthcheck. */
export async function health(container: string): Promise<string> {
  const r = await $({
    quiet: true,
    nothrow: true,
  })`${DOCKER} inspect --format ${"{{if .State.Health}}{{.State.Health.Status}}{{else}}{{.State.Status}}{{end}}"} ${container}`;
  return r.stdout.trim();
}

/** The last healthcheck outputs of a container, for a failure message (a failing exec shows up only here). */
export async function healthLog(container: string): Promise<string> {
  const r = await $({
    quiet: true,
    nothrow: true,
  })`${DOCKER} inspect --format ${"{{if .State.Health}}{{range .State.Health.Log}}exit {{.ExitCode}}: {{.Output}}\n{{end}}{{end}}"} ${container}`;
  return r.stdout.trim().split("\n").slice(-3).join(" | ");
}
