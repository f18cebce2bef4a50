/**
 * Where `build --push` publishes: `--registry`, else the config's `build.registry`, else CODEX_REGISTRY
 * (host[:port][/namespace]). Credentials only ever come from the environment: CODEX_REGISTRY_USERNAME, and the
 * password in CODEX_REGISTRY_PASSWORD or a file named by CODEX_REGISTRY_PASSWORD_FILE.
 */
import { REGISTRY } from "../../config.js";
import type { RegistryAuth } from "../../engine.js";
import type { Settings } from "../../stage.js";

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

/** Plain HTTP without TLS checks: a loopback registry, or one the config declares insecure. */
export const insecureRegistry = (address: string, declared: string[]): boolean =>
  loopbackRegistry(address) || declared.some((d) => d.toLowerCase() === address.toLowerCase());

/** A registry value fit for an error message: any user or password in it replaced. */
export function redactRegistry(value: string): string {
  return value.replace(/^([a-z][a-z0-9+.-]*:\/\/)?[^@/]*@/i, (_, scheme = "") => `${scheme}***@`);
}

/**
 * The push target from the flag, the config or the environment, or says which setting is missing or wrong.
 * Image references are lowercase, so the repository is too (a GitHub owner may not be).
 */
export function pushTarget(
  r: Settings["registry"],
  chosen?: { flag?: string; config?: string },
): PushTarget {
  const [where, given] = chosen?.flag
    ? ["--registry", chosen.flag]
    : chosen?.config
      ? ["build.registry", chosen.config]
      : ["CODEX_REGISTRY", r.repository];
  const repository = given?.replace(/\/+$/, "").toLowerCase();
  if (!repository)
    throw new Error(
      "build --push: say where to push: --registry ghcr.io/<owner>, build.registry in the config, or CODEX_REGISTRY (e.g. 127.0.0.1:5000)",
    );
  if (!REGISTRY.test(repository))
    throw new Error(
      `${where}: "${redactRegistry(repository)}" is not host[:port][/namespace] (no scheme, no credentials: those go in CODEX_REGISTRY_USERNAME and _PASSWORD)`,
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
