/**
 * Where `build --push` publishes, from the environment (never from the repo):
 * CODEX_REGISTRY (host[:port][/namespace]), CODEX_REGISTRY_USERNAME, and the password in
 * CODEX_REGISTRY_PASSWORD or a file named by CODEX_REGISTRY_PASSWORD_FILE.
 */
import type { RegistryAuth } from "../engine.js";

/** The push target. */
export interface PushTarget {
  /** e.g. "127.0.0.1:5000" or "ghcr.io/acme". */
  repository: string;
  auth?: RegistryAuth;
}

/** Reads the push target from `env`, or says which variable is missing. */
export function pushTarget(env: NodeJS.ProcessEnv = process.env): PushTarget {
  const repository = env.CODEX_REGISTRY?.replace(/\/+$/, "");
  if (!repository)
    throw new Error(
      "build --push: set CODEX_REGISTRY to the registry to push to, e.g. CODEX_REGISTRY=127.0.0.1:5000 or ghcr.io/<owner>",
    );
  if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/i.test(repository))
    throw new Error(`CODEX_REGISTRY: "${repository}" is not host[:port][/namespace]`);
  const address = repository.split("/")[0] as string;
  const username = env.CODEX_REGISTRY_USERNAME;
  const value = env.CODEX_REGISTRY_PASSWORD;
  const file = env.CODEX_REGISTRY_PASSWORD_FILE;
  if (!username) {
    if (value || file)
      throw new Error("CODEX_REGISTRY_PASSWORD is set but CODEX_REGISTRY_USERNAME is not");
    return { repository };
  }
  if (!value && !file)
    throw new Error(
      "CODEX_REGISTRY_USERNAME is set: give the password in CODEX_REGISTRY_PASSWORD or CODEX_REGISTRY_PASSWORD_FILE",
    );
  const password = value
    ? { name: "registry_password", value }
    : { name: "registry_password", file: file as string };
  return { repository, auth: { address, username, password } };
}
