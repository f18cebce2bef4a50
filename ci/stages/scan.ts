/**
 * Stage `scan`: Trivy on each built platform's tarball (`trivy image --input`, no daemon), with
 * its vulnerability DB in a cache volume. Trivy reports every severity; the gate (ci/scan/gate.ts)
 * applies the policy from config and `.trivyignore`, so the summary can count everything while
 * only what the policy names fails. Writes the JSON per platform and one SARIF under reports/.
 *
 * When Trivy's image or DB cannot be had (offline), `scan.fallback: debian-security` scans the same images
 * with the debian-security scanner (ci/scan/debian/) instead, named in the detail, the SARIF and the summary.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { archOf, nativePlatform } from "../build/emulation.js";
import { type BuildManifest, type BuiltPlatform, readManifest } from "../build/manifest.js";
import type { RunSpec } from "../engine.js";
import { plannedRuns } from "../scan/debian/runs.js";
import { debianSecurityScan, NPM_NOT_COVERED, REPORT_DIR } from "../scan/debian/scan.js";
import { evaluate, parseSeverities, type ScanPolicy } from "../scan/gate.js";
import { activeIgnores, parseIgnoreFile } from "../scan/ignore.js";
import { parseTrivyReport, SEVERITIES } from "../scan/report.js";
import { toSarif } from "../scan/sarif.js";
import { type PlatformScan, summaryLine, summaryMarkdown } from "../scan/summary.js";
import type {
  CellResult,
  PlanContext,
  PlanFn,
  StageContext,
  StageFn,
  StageResult,
} from "../stage.js";
import { DOCKERFILE } from "./build.js";

/** The named volume holding Trivy's vulnerability DB between runs. */
export const TRIVY_CACHE_VOLUME = "codex-ci-trivy";
/** Where the SARIF for GitHub code scanning goes. */
export const SARIF_FILE = "reports/trivy.sarif";

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
    [...SEVERITIES].reverse().join(","),
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

/** The container that scans one platform's tarball. */
function scanSpec(
  ctx: PlanContext,
  p: BuiltPlatform & { tarball: string },
  reportPath: string,
  ignoreFile?: string,
): RunSpec {
  return {
    name: `scan ${p.platform}`,
    image: ctx.config.images.trivy,
    files: [
      { from: join(ctx.root, p.tarball), to: IN },
      ...(ignoreFile ? [{ from: ignoreFile, to: IGNORE }] : []),
    ],
    caches: { [CACHE]: TRIVY_CACHE_VOLUME },
    steps: [{ name: "trivy", args: trivyArgs(Boolean(ignoreFile)) }],
    outputs: { [OUT]: reportPath },
  };
}

/** Trivy's image or DB cannot be had here: what `scan.fallback` falls back on. */
class TrivyUnavailable extends Error {
  constructor(
    readonly reason: string,
    advice: string,
  ) {
    super(advice);
  }
}

/** Turns engine failures into what to do about them. */
function explain(ctx: StageContext, e: unknown): Error {
  const text = `${(e as Error).message}\n${(e as { tail?: string }).tail ?? ""}\n${(e as { stderr?: string }).stderr ?? ""}`;
  const image = ctx.config.images.trivy;
  if (
    /unable to find image|pull access denied|manifest unknown|no such image|dial tcp|i\/o timeout|no such host|tls handshake|connection refused|failed to resolve|repository does not exist/i.test(
      text,
    ) &&
    !/trivy-db|vulnerability db/i.test(text)
  )
    return new TrivyUnavailable(
      `its image ${image} is not on this machine and no registry is reachable`,
      `the scanner image ${image} is not on this machine and no registry is reachable. Load or mirror it (docker load / images.trivy in ${ctx.config.file}), use scan.fallback: debian-security, or turn the scan off explicitly with --skip scan or scan.enabled: false.`,
    );
  if (/vulnerability db|trivy-db|db error|failed to download/i.test(text))
    return new TrivyUnavailable(
      "its vulnerability DB could not be downloaded",
      `Trivy could not get its vulnerability DB (offline?). Seed the cache volume ${TRIVY_CACHE_VOLUME} (trivy image --download-db-only with ${CACHE} mounted) where a registry is reachable, use scan.fallback: debian-security, or skip explicitly with --skip scan.`,
    );
  return e as Error;
}

/** The policy from config and the ignore file. */
async function policyOf(ctx: StageContext): Promise<{ policy: ScanPolicy; ignoreFile?: string }> {
  const file = join(ctx.root, ctx.config.scan.ignoreFile);
  const has = existsSync(file);
  const entries = has
    ? parseIgnoreFile(await readFile(file, "utf8"), ctx.config.scan.ignoreFile)
    : [];
  return {
    policy: {
      severity: parseSeverities(ctx.config.scan.severity, `${ctx.config.file}: scan.severity`),
      ignoreUnfixed: ctx.config.scan.ignoreUnfixed,
      ignore: activeIgnores(entries),
    },
    ...(has ? { ignoreFile: file } : {}),
  };
}

/** Scans one platform and judges the report. */
async function scanPlatform(
  ctx: StageContext,
  p: BuiltPlatform,
  policy: ScanPolicy,
  ignoreFile?: string,
): Promise<PlatformScan> {
  if (!p.tarball)
    throw new Error(
      `no tarball for ${p.platform} in reports/build.json (built with --push?); run build without --push to scan`,
    );
  const abs = join(ctx.root, p.tarball);
  if (!existsSync(abs)) throw new Error(`${p.tarball} is missing; run the build stage again`);
  const rel = join("reports", "trivy", `${archOf(p.platform)}.json`);
  const out = join(ctx.root, rel);
  await mkdir(join(ctx.root, "reports", "trivy"), { recursive: true });
  try {
    await ctx.engine.run({
      ...scanSpec(ctx, { ...p, tarball: p.tarball }, `${out}.partial`, ignoreFile),
      log: ctx.cellLog(p.platform),
      signal: ctx.signal,
    });
  } catch (e) {
    throw explain(ctx, e);
  }
  const text = await readFile(`${out}.partial`, "utf8");
  await rename(`${out}.partial`, out);
  const report = parseTrivyReport(text, rel);
  const arch = report.Metadata?.ImageConfig?.architecture;
  if (arch && arch !== archOf(p.platform))
    throw new Error(`${rel}: the report is for ${arch}, expected ${archOf(p.platform)}`);
  return { platform: p.platform, verdict: evaluate(report, policy) };
}

/** Scans one platform as a summary cell; undefined when it could not be scanned. */
async function scanCell(
  ctx: StageContext,
  p: BuiltPlatform,
  policy: ScanPolicy,
  cells: CellResult[],
  ignoreFile?: string,
): Promise<PlatformScan | undefined> {
  const t0 = Date.now();
  const log = ctx.cellLog(p.platform);
  try {
    const s = await scanPlatform(ctx, p, policy, ignoreFile);
    log(summaryLine(s));
    for (const f of s.verdict.blocking)
      log(
        `blocking: ${f.VulnerabilityID} ${f.Severity} ${f.PkgName} ${f.InstalledVersion ?? ""} → ${f.FixedVersion}`,
      );
    const status = s.verdict.passed ? "passed" : "failed";
    cells.push({ name: p.platform, status, durationMs: Date.now() - t0, detail: summaryLine(s) });
    return s;
  } catch (e) {
    if (e instanceof TrivyUnavailable && ctx.config.scan.fallback !== "none") throw e;
    const detail = (e as Error).message;
    log(detail);
    cells.push({ name: p.platform, status: "failed", durationMs: Date.now() - t0, detail });
    return undefined;
  }
}

/** The stage. */
export const run: StageFn = async (ctx) => {
  if (!ctx.config.scan.enabled)
    return {
      status: "skipped",
      detail: `scan.enabled is false in ${ctx.config.file}; the image was not scanned`,
    };
  const manifest = await readManifest(ctx.root, "scan");
  const { policy, ignoreFile } = await policyOf(ctx);
  ctx.log(
    `policy: fail on ${policy.severity.join(", ")}${policy.ignoreUnfixed ? " with a fix available" : ""}; ${policy.ignore.size} accepted in ${ctx.config.scan.ignoreFile}`,
  );
  const cells: CellResult[] = [];
  const scans: (PlatformScan | undefined)[] = [];
  // One at a time: Trivy locks its cache DB, so parallel scans on one volume would wait or time out.
  try {
    for (const p of manifest.platforms)
      scans.push(await scanCell(ctx, p, policy, cells, ignoreFile));
  } catch (e) {
    if (!(e instanceof TrivyUnavailable)) throw e;
    return fallback(ctx, manifest, policy, e.reason);
  }
  const done = scans.filter((s): s is PlatformScan => s !== undefined);
  return outcome(ctx, cells, done, done.length ? summaryMarkdown(done) : undefined);
};

/** Writes the SARIF of what was scanned, then the stage's result. */
async function outcome(
  ctx: StageContext,
  cells: CellResult[],
  done: PlatformScan[],
  markdown: string | undefined,
  scanner?: string,
): Promise<StageResult> {
  if (done.length > 0) {
    await writeFile(
      join(ctx.root, `${SARIF_FILE}.partial`),
      `${JSON.stringify(toSarif(done, DOCKERFILE), null, 2)}\n`,
    );
    await rename(join(ctx.root, `${SARIF_FILE}.partial`), join(ctx.root, SARIF_FILE));
  }
  const failed = cells.filter((c) => c.status === "failed");
  const named = (detail: string) => (scanner ? `${scanner}; ${detail}` : detail);
  if (failed.length > 0 || done.length === 0)
    return {
      status: "failed",
      detail: named(
        failed
          .map((c) => (c.detail?.startsWith(`${c.name}:`) ? c.detail : `${c.name}: ${c.detail}`))
          .join("; ") || "nothing was scanned",
      ),
      cells,
      ...(markdown ? { markdown } : {}),
    };
  return {
    status: "passed",
    detail: named(done.map(summaryLine).join("; ")),
    cells,
    ...(markdown ? { markdown } : {}),
  };
}

/** The image a platform's fallback scan starts from: the per-arch local tag the build stage leaves (Docker engine). */
function builtImage(ctx: StageContext, manifest: BuildManifest, platform: string): string {
  if (ctx.engine.name !== "docker")
    throw new Error(
      "the debian-security scanner starts from the built images, which the Dagger engine does not pass to scan yet; run scan with --engine docker, or --skip scan",
    );
  return `${manifest.image}:${manifest.deployTag}-${archOf(platform)}`;
}

/** `scan.fallback: debian-security`: the same images, checked against the Debian security suite. */
async function fallback(
  ctx: StageContext,
  manifest: BuildManifest,
  policy: ScanPolicy,
  reason: string,
): Promise<StageResult> {
  const scanner = `scanner: debian-security (Trivy unavailable: ${reason})`;
  const heading = `Scanner: **debian-security** (Trivy unavailable: ${reason}). Reports in \`${REPORT_DIR}/\`.`;
  ctx.log(scanner);
  ctx.log(
    `policy: every pending Debian security update fails (no severities offline); ${policy.ignore.size} accepted in ${ctx.config.scan.ignoreFile}`,
  );
  try {
    const targets = manifest.platforms.map((p) => ({
      platform: p.platform,
      image: builtImage(ctx, manifest, p.platform),
    }));
    const { scans, cells } = await debianSecurityScan(ctx, targets, policy);
    ctx.log(NPM_NOT_COVERED);
    const markdown = [
      heading,
      "",
      ...(scans.length ? [summaryMarkdown(scans), ""] : []),
      NPM_NOT_COVERED,
    ].join("\n");
    return outcome(ctx, cells, scans, markdown, scanner);
  } catch (e) {
    const detail = `${scanner}; ${(e as Error).message.split("\n")[0]}`;
    return { status: "failed", detail, markdown: `${heading}\n\nFailed: ${detail}` };
  }
}

/** The scanner containers it would run: Trivy, and with `scan.fallback` what runs when Trivy cannot. */
export const plan: PlanFn = (ctx) => {
  if (!ctx.config.scan.enabled) return [];
  const trivy = ctx.config.platforms.map((platform) => ({
    name: `${platform}: trivy`,
    image: ctx.config.images.trivy,
    steps: [
      trivyArgs(true)
        .join(" ")
        .replace(IN, `${IN} (reports/images/${ctx.config.image.name}-${archOf(platform)}.tar)`),
    ],
  }));
  if (ctx.config.scan.fallback === "none") return trivy;
  const image = (p: string) => `${ctx.config.image.name}:<deploy tag>-${archOf(p)}`;
  const native = [...ctx.config.platforms].sort(
    (a, b) => Number(b === nativePlatform()) - Number(a === nativePlatform()),
  );
  return [
    ...trivy,
    ...plannedRuns(native.map((platform) => ({ platform, image: image(platform) }))).map((r) => ({
      ...r,
      name: `if Trivy's image or DB cannot be had, ${r.name}`,
    })),
  ];
};
