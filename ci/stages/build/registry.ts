/**
 * Where `build --push` publishes, from the environment (never from the repo): CODEX_REGISTRY
 * (host[:port][/namespace]), CODEX_REGISTRY_USERNAME, and the password in CODEX_REGISTRY_PASSWORD or a file
 * named by CODEX_REGISTRY_PASSWORD_FILE.
 */
import type { RegistryAuth } from "../../engine.js";
import type { Settings } from "../../stage.js";

/** The push target. */
export interface PushTarget {
  /** e.g. "127.0.0.1:5000" or "ghcr.io/acme". */
  repository: string;
  auth?: RegistryAuth;
}

/** True for a registry on this machine's loopback (127.0.0.0/8, localhost, [::1]), which needs no TLS. */
export function loopbackRegistry(address: string): boolean {
  const host = address.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return host === "localhost" || host === "::1" || /^127(\.\d{1,3}){3}$/.test(host);
}

/** A registry value fit for an error message: any user or password in it replaced. */
export function redactRegistry(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/]*@/i, (_, scheme = "") => `${scheme}***@`);
}

/** The push target from the settings, or says which variable is missing or wrong. */
export function pushTarget(r: Settings["registry"]): PushTarget {
  const repository = r.repository?.replace(/\/+$/, "");
  if (!repository)
    throw new Error(
      "build --push: set CODEX_REGISTRY to the registry to push to, e.g. CODEX_REGISTRY=127.0.0.1:5000 or ghcr.io/<owner>",
    );
  if (!/^[a-z0-9.-]+(:\d+)?(\/[a-z0-9._/-]+)?$/i.test(repository))
    throw new Error(
      `CODEX_REGISTRY: "${redactRegistry(repository)}" is not host[:port][/namespace] (no scheme, no credentials: those go in CODEX_REGISTRY_USERNAME and _PASSWORD)`,
    );
  const address = repository.split("/")[0] as string;
  if (!r.username) {
    if (r.password || r.passwordFile)
      throw new Error("CODEX_REGISTRY_PASSWORD is set but CODEX_REGISTRY_USERNAME is not");
    return { repository };
  }
  if (!r.password && !r.passwordFile)
    throw new Error(
      "CODEX_REGISTRY_USERNAME is set: give the password in CODEX_REGISTRY_PASSWORD or CODEX_REGISTRY_PASSWORD_FILE",
    );
  const password = r.password
    ? { name: "registry_password", value: r.password }
    : { name: "registry_password", file: r.passwordFile as string };
  return { repository, auth: { address, username: r.username, password } };
}
