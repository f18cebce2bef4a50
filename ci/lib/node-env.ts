/** The ready Node environment lint and test start from: base image, source, npm cache, CA bundle, `npm ci`. */

import { SOURCE_EXCLUDE } from "../../.dagger/src/source-exclude.js";
import { nodeImage } from "../config.js";
import type { ContainerSpec, Secret, Step } from "../engine.js";
import type { PlanContext } from "../stage.js";

/** Left out of the source copy: rebuilt inside, or host-only. Shared with the Dagger module's `source`. */
export { SOURCE_EXCLUDE };

/** Where the extra CA bundle is copied in steps: a plain file, not a secret (a CA bundle is public). */
export const CA_PATH = "/usr/local/share/codex-ci/ca.pem";

/**
 * The extra CA bundle for Dockerfile builds, as the BuildKit secret `npm_ca` (`RUN --mount=type=secret`
 * keeps it out of every layer), when given.
 */
export function caSecret(ctx: Pick<PlanContext, "settings">): Secret | undefined {
  const file = ctx.settings.caFile;
  return file ? { name: "npm_ca", file } : undefined;
}

/** The source at /src, npm's cache on the named volume, and the CA bundle as a file when given. */
export function nodeContainer(
  ctx: PlanContext,
  version: string,
  workdir = "/src",
): ContainerSpec & { reuse: boolean } {
  const ca = ctx.settings.caFile;
  return {
    reuse: true, // npm ci, type-check, lint and tests depend only on the source, lockfile and image
    image: nodeImage(ctx.config, version),
    source: { from: ctx.root, to: workdir, exclude: SOURCE_EXCLUDE },
    workdir,
    caches: { "/root/.npm": ctx.config.cache.npm },
    env: {
      CI: "true",
      npm_config_update_notifier: "false",
      npm_config_fund: "false",
      npm_config_audit: "false",
      ...(ca ? { NODE_EXTRA_CA_CERTS: CA_PATH } : {}),
    },
    ...(ca ? { files: [{ from: ca, to: CA_PATH }] } : {}),
  };
}

/** Debian tools a step calls (git, promtool…), installed with apt before `npm ci`; none for an empty list. */
export const toolSteps = (packages: string[]): Step[] =>
  packages.length === 0
    ? []
    : [
        { name: "apt-get update", args: ["apt-get", "update", "-qq"] },
        {
          name: "apt-get install",
          args: ["apt-get", "install", "-y", "-qq", "--no-install-recommends", ...packages],
          env: { DEBIAN_FRONTEND: "noninteractive" },
        },
      ];

/** `npm ci` from the cache volume first, the registry only for what is missing. */
export const npmCi: Step = { name: "npm ci", args: ["npm", "ci", "--prefer-offline"] };

/** `npm run <script>` as a step named after the script. */
export const npmRun = (script: string, allowFailure = false): Step => ({
  name: script,
  args: ["npm", "run", "--silent", script],
  ...(allowFailure ? { allowFailure } : {}),
});
