/**
 * Network checks, each bounded and talking to one host only: the container registry of the configured
 * images (else: are the offline base images present?), and the npm registry's TLS chain (is an extra
 * CA bundle needed, and is it given?).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { isIP } from "node:net";
import { connect, rootCertificates } from "node:tls";
import { nodeImage, type PipelineConfig } from "../config.js";
import { platformRef } from "../lib/platform.js";
import type { CheckResult, DoctorContext } from "./check.js";
import { run } from "./probe.js";

/** The system CA bundle on Debian and Ubuntu, which includes locally added CAs. */
export const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";

/** The registry host an image reference pulls from (`node:24` → `registry-1.docker.io`). */
export function registryHost(ref: string): string {
  const first = ref.split("/")[0] ?? "";
  const domain = ref.includes("/") && (/[.:]/.test(first) || first === "localhost");
  if (!domain || first === "docker.io" || first === "index.docker.io")
    return "registry-1.docker.io";
  return first;
}

/** The base images `--fix` builds offline: every Node version in use, Prometheus, Alertmanager. */
export function offlineRefs(config: PipelineConfig): string[] {
  const versions = [...new Set([...config.node, config.image.nodeVersion])];
  return [
    ...versions.map((v) => nodeImage(config, v)),
    config.images.prometheus,
    config.images.alertmanager,
    config.images.dind,
  ];
}

/** The per-platform aliases of the Dockerfile's base that `offlineImages()` tags (Docker 20.10 keeps one platform per tag). */
export function platformRefs(config: PipelineConfig): string[] {
  return config.platforms.map((p) => platformRef(nodeImage(config, config.image.nodeVersion), p));
}

/** Whether `https://host/v2/` answers at all (any HTTP status) within `timeoutMs`. */
export async function registryAnswers(
  host: string,
  timeoutMs: number,
): Promise<{ ok: boolean; why: string }> {
  const scheme = /^(localhost|127\.)/.test(host) ? "http" : "https";
  try {
    const res = await fetch(`${scheme}://${host}/v2/`, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: "manual",
    });
    await res.body?.cancel();
    return { ok: true, why: `HTTP ${res.status}` };
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    return {
      ok: false,
      why: err.cause?.code ?? (err.name === "TimeoutError" ? "timeout" : err.message),
    };
  }
}

/** Whether the registries of the configured base images answer; no registry is fine if images are present. */
export async function registryCheck(ctx: DoctorContext): Promise<CheckResult> {
  const hosts = [...new Set(offlineRefs(ctx.config).map(registryHost))];
  const probes = await Promise.all(hosts.map((h) => registryAnswers(h, ctx.netTimeoutMs)));
  const down = hosts.filter((_, i) => !probes[i]?.ok);
  const shown = hosts.map(
    (h, i) => `${h} ${probes[i]?.ok ? "answers" : `unreachable (${probes[i]?.why})`}`,
  );
  if (down.length === 0) return { name: "registry", status: "ok", found: shown.join(", ") };
  return {
    name: "registry",
    status: "warn",
    found: shown.join(", "),
    fix: "fine offline when the offline base images are present (next row)",
  };
}

/** Which of the configured base images the daemon already has (only asked when no registry answers). */
export async function offlineImagesCheck(
  ctx: DoctorContext,
  registryUp: boolean,
  daemonUp: boolean,
): Promise<CheckResult> {
  const name = "base images";
  if (registryUp) return { name, status: "ok", found: "pulled from the registry on demand" };
  const fix =
    "npx tsx ci/main.ts images --offline (builds them from Debian packages with mmdebstrap)";
  if (!daemonUp)
    return {
      name,
      status: "missing",
      found: "unknown: the daemon does not answer",
      fix,
      action: "offline-images",
    };
  const refs = [...offlineRefs(ctx.config), ...platformRefs(ctx.config)];
  const have = await Promise.all(
    refs.map((r) => run("docker", ["image", "inspect", "--format", "{{.Id}}", r], ctx.env, 10_000)),
  );
  const missing = refs.filter((_, i) => !have[i]?.ok);
  if (missing.length === 0) return { name, status: "ok", found: `present: ${refs.join(", ")}` };
  return {
    name,
    status: "missing",
    found: `no registry and missing: ${missing.join(", ")}`,
    fix,
    action: "offline-images",
  };
}

const CERT_ERRORS = new Set([
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "CERT_UNTRUSTED",
]);

/** A TLS handshake with `host:port` trusting only `ca`; resolves to "ok" or the error code. */
export function handshake(
  host: string,
  port: number,
  ca: string[],
  timeoutMs: number,
): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, servername: isIP(host) ? undefined : host, ca });
    const timer = setTimeout(() => done("timeout"), timeoutMs);
    const done = (result: string) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    socket.once("secureConnect", () => done("ok"));
    socket.once("error", (e: Error & { code?: string }) => done(e.code ?? e.message));
  });
}

/**
 * The Dagger engine pulls images itself, outside any step: it trusts a proxy's CA only from its own custom-CA
 * directory (https://docs.dagger.io/configuration/custom-ca), which it also installs in containers, best effort.
 */
export const DAGGER_CA_HINT =
  "for the Dagger engine itself, also copy your proxy's CA (not the whole bundle) to ~/.config/dagger/ca-certificates/ ($XDG_CONFIG_HOME/dagger/ca-certificates) before its first start";

/** Whether npm's registry needs a CA beyond Node's bundled roots (a TLS-intercepting proxy), and whether NODE_EXTRA_CA_CERTS gives it. */
export async function caCheck(ctx: DoctorContext): Promise<CheckResult> {
  const name = "extra CA bundle";
  const url = new URL(ctx.npmRegistry);
  const host = url.hostname;
  const port = Number(url.port || 443);
  const given = ctx.env.NODE_EXTRA_CA_CERTS;
  const bare = await handshake(host, port, [...rootCertificates], ctx.netTimeoutMs);
  if (bare === "ok")
    return { name, status: "ok", found: `not needed: ${host} verifies with Node's own roots` };
  if (!CERT_ERRORS.has(bare))
    return {
      name,
      status: "warn",
      found: `cannot tell: ${host} did not answer (${bare})`,
      fix: "behind a TLS-intercepting proxy, export NODE_EXTRA_CA_CERTS=<its CA bundle>",
    };
  const withFile = async (file: string) =>
    existsSync(file)
      ? handshake(host, port, [...rootCertificates, await readFile(file, "utf8")], ctx.netTimeoutMs)
      : "no such file";
  if (given) {
    const r = await withFile(given);
    if (r === "ok")
      return {
        name,
        status: "ok",
        found: `needed (${host}: ${bare}); given: NODE_EXTRA_CA_CERTS=${given}`,
        fix: DAGGER_CA_HINT,
      };
    return {
      name,
      status: "missing",
      found: `needed (${host}: ${bare}); NODE_EXTRA_CA_CERTS=${given} does not help (${r})`,
      fix: `point NODE_EXTRA_CA_CERTS at a PEM bundle with your proxy's CA; ${DAGGER_CA_HINT}`,
    };
  }
  // npm's own `cafile` (exported to scripts as npm_config_cafile), then the system bundle.
  const candidates = [ctx.env.npm_config_cafile, SYSTEM_CA_BUNDLE].filter((f): f is string => !!f);
  let works: string | undefined;
  for (const file of candidates) if (!works && (await withFile(file)) === "ok") works = file;
  return {
    name,
    status: "missing",
    found: `needed (${host}: ${bare}); NODE_EXTRA_CA_CERTS unset`,
    fix: works
      ? `export NODE_EXTRA_CA_CERTS=${works} (it verifies ${host}; the pipeline copies it into steps and builds); ${DAGGER_CA_HINT}`
      : `export NODE_EXTRA_CA_CERTS=<PEM bundle with your proxy's CA>; ${DAGGER_CA_HINT}`,
  };
}
