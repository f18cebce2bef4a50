/** Trivy in its own container: the argv, the run over one platform's tarball, and what its failures mean. */

import { SEVERITIES } from "../../config.js";
import type { RunSpec } from "../../engine.js";

/** The named volume holding Trivy's vulnerability DB between runs. */
export const TRIVY_CACHE_VOLUME = "codex-ci-trivy";

const IN = "/scan/image.tar";
const IGNORE = "/scan/.trivyignore";
const OUT = "/tmp/trivy-report.json";
const CACHE = "/root/.cache/trivy";

/** Trivy's argv for one tarball: every severity reported, the gate decides; the binary named explicitly. */
export function trivyArgs(withIgnoreFile: boolean): string[] {
  return [
    "trivy",
    "image",
    "--input",
    IN,
    "--format",
    "json",
    "--output",
    OUT,
    "--severity",
    SEVERITIES.join(","),
    ...(withIgnoreFile ? ["--ignorefile", IGNORE] : []),
    "--scanners",
    "vuln",
    "--cache-dir",
    CACHE,
    "--exit-code",
    "0",
    "--no-progress",
  ];
}

/** The container that scans one platform's tarball and copies the JSON report to `reportPath`. */
export function trivyRun(opts: {
  image: string;
  platform: string;
  tarball: string;
  reportPath: string;
  ignoreFile?: string;
}): RunSpec {
  return {
    name: `scan ${opts.platform}`,
    image: opts.image,
    files: [
      { from: opts.tarball, to: IN },
      ...(opts.ignoreFile ? [{ from: opts.ignoreFile, to: IGNORE }] : []),
    ],
    caches: { [CACHE]: TRIVY_CACHE_VOLUME },
    steps: [{ name: "trivy", args: trivyArgs(Boolean(opts.ignoreFile)) }],
    outputs: { [OUT]: opts.reportPath },
  };
}

/** Trivy's image or DB cannot be had here: what `scan.fallback` falls back on. */
export class TrivyUnavailable extends Error {
  override name = "TrivyUnavailable";
  constructor(
    readonly reason: string,
    advice: string,
  ) {
    super(advice);
  }
}

/** Turns engine failures into what to do about them. */
export function explainTrivy(e: unknown, image: string, configFile: string): Error {
  const text = `${(e as Error).message}\n${(e as { tail?: string }).tail ?? ""}\n${(e as { stderr?: string }).stderr ?? ""}`;
  if (
    /unable to find image|pull access denied|manifest unknown|no such image|dial tcp|i\/o timeout|no such host|tls handshake|connection refused|failed to resolve|repository does not exist/i.test(
      text,
    ) &&
    !/trivy-db|vulnerability db/i.test(text)
  )
    return new TrivyUnavailable(
      `its image ${image} is not on this machine and no registry is reachable`,
      `the scanner image ${image} is not on this machine and no registry is reachable. Load or mirror it (docker load / images.trivy in ${configFile}), use scan.fallback: debian-security, or turn the scan off explicitly with --skip scan or scan.enabled: false.`,
    );
  if (/vulnerability db|trivy-db|db error|failed to download/i.test(text))
    return new TrivyUnavailable(
      "its vulnerability DB could not be downloaded",
      `Trivy could not get its vulnerability DB (offline?). Seed the cache volume ${TRIVY_CACHE_VOLUME} (trivy image --download-db-only with ${CACHE} mounted) where a registry is reachable, use scan.fallback: debian-security, or skip explicitly with --skip scan.`,
    );
  return e as Error;
}
