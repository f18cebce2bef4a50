/**
 * scan: Trivy on each built platform's tarball (`trivy image --input`, no daemon), with its vulnerability DB in
 * a cache volume. Trivy reports every severity; the gate (gate.ts) applies the policy from config and
 * `.trivyignore`, so the summary can count everything while only what the policy names fails. Writes the JSON
 * per platform and one SARIF under reports/.
 *
 * When Trivy's image or DB cannot be had (offline), `scan.fallback: debian-security` checks the same images
 * against Debian's security suite instead (debian/), named in the detail, the SARIF and the summary.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { BuiltImage } from "../../engine.js";
import { produceAtomic, writeJsonAtomic } from "../../lib/files.js";
import { archOf, nativePlatform } from "../../lib/platform.js";
import type { RowHooks } from "../../progress.js";
import type {
  CellResult,
  Job,
  PlanContext,
  Stage,
  StageContext,
  StageResult,
} from "../../stage.js";
import type { BuildOutput } from "../build/index.js";
import { DOCKERFILE } from "../build/index.js";
import { type BuildManifest, type BuiltPlatform, readManifest } from "../build/manifest.js";
import { plannedRuns } from "./debian/runs.js";
import { debianSecurityScan, NPM_NOT_COVERED, REPORT_DIR } from "./debian/scan.js";
import { evaluate, parseSeverities, type ScanPolicy } from "./gate.js";
import { activeIgnores, parseIgnoreFile } from "./ignore.js";
import { toSarif } from "./sarif.js";
import { type PlatformScan, summaryLine, summaryMarkdown } from "./summary.js";
import { explainTrivy, TrivyUnavailable, trivyRun } from "./trivy.js";
import { parseTrivyReport } from "./trivy-report.js";

/** Where the SARIF for GitHub code scanning goes. */
export const SARIF_FILE = "reports/trivy.sarif";

/** What scan hands to deploy. */
export interface ScanOutput {
  scans: PlatformScan[];
}

/** The policy from config and the ignore file. */
async function policyOf(ctx: PlanContext): Promise<{ policy: ScanPolicy; ignoreFile?: string }> {
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

/** The report of one platform, under reports/trivy/. */
const reportOf = (platform: string) => join("reports", "trivy", `${archOf(platform)}.json`);

/** The tarball build writes for a platform (the same name build uses). */
const tarballOf = (ctx: PlanContext, platform: string) =>
  join("reports", "images", `${ctx.config.image.name}-${archOf(platform)}.tar`);

/** Scans one platform with Trivy and judges the report. */
async function trivyPlatform(
  ctx: StageContext,
  p: BuiltPlatform,
  row: RowHooks,
  policy: ScanPolicy,
  ignoreFile?: string,
): Promise<PlatformScan> {
  if (!p.tarball)
    throw new Error(
      `no tarball for ${p.platform} in reports/build.json; run the build stage again`,
    );
  const abs = join(ctx.root, p.tarball);
  if (!existsSync(abs)) throw new Error(`${p.tarball} is missing; run the build stage again`);
  const rel = reportOf(p.platform);
  const out = join(ctx.root, rel);
  await produceAtomic(out, async (tmp) => {
    const spec = trivyRun({
      image: ctx.config.images.trivy,
      platform: p.platform,
      tarball: abs,
      reportPath: tmp,
      ...(ignoreFile ? { ignoreFile } : {}),
    });
    await ctx.engine.run({ ...spec, ...row, signal: ctx.signal }).catch((e) => {
      throw explainTrivy(e, ctx.config.images.trivy, ctx.config.file);
    });
  });
  const report = parseTrivyReport(await readFile(out, "utf8"), rel);
  const arch = report.Metadata?.ImageConfig?.architecture;
  if (arch && arch !== archOf(p.platform))
    throw new Error(`${rel}: the report is for ${arch}, expected ${archOf(p.platform)}`);
  return { platform: p.platform, verdict: evaluate(report, policy) };
}

/** Writes the SARIF of what was scanned, then the stage's result; `scanner` names a fallback. */
async function outcome(
  ctx: StageContext,
  cells: CellResult[],
  scans: PlatformScan[],
  markdown: string | undefined,
  scanner?: string,
): Promise<StageResult<ScanOutput>> {
  if (scans.length > 0)
    await writeJsonAtomic(join(ctx.root, SARIF_FILE), toSarif(scans, DOCKERFILE));
  const failed = cells.filter((c) => c.status !== "passed");
  const named = (detail: string) => (scanner ? `${scanner}; ${detail}` : detail);
  const base = { cells, output: { scans }, ...(markdown ? { markdown } : {}) };
  if (failed.length > 0 || scans.length === 0)
    return {
      status: "failed",
      detail: named(
        failed
          .map((c) => (c.detail?.startsWith(`${c.name}:`) ? c.detail : `${c.name}: ${c.detail}`))
          .join("; ") || "nothing was scanned",
      ),
      ...base,
    };
  return { status: "passed", detail: named(scans.map(summaryLine).join("; ")), ...base };
}

/**
 * The images a platform's fallback scan starts from: this run's build (engine handles), else, for a scan in
 * a later invocation, the per-arch tag the build left in the Docker daemon.
 */
function builtImages(manifest: BuildManifest, built?: BuiltImage[]) {
  return manifest.platforms.map((p) => ({
    platform: p.platform,
    image:
      built?.find((b) => b.platform === p.platform)?.ref ??
      `${manifest.image}:${manifest.deployTag}-${archOf(p.platform)}`,
  }));
}

/** `scan.fallback: debian-security`: the same images, checked against Debian's security suite. */
async function fallback(
  ctx: StageContext,
  targets: { platform: string; image: string }[],
  policy: ScanPolicy,
  reason: string,
): Promise<StageResult<ScanOutput>> {
  const scanner = `scanner: debian-security (Trivy unavailable: ${reason})`;
  const heading = `Scanner: **debian-security** (Trivy unavailable: ${reason}). Reports in \`${REPORT_DIR}/\`.`;
  ctx.log(scanner);
  ctx.log(
    `policy: every pending Debian security update fails (no severities offline); ${policy.ignore.size} accepted in ${ctx.config.scan.ignoreFile}`,
  );
  try {
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

/** The containers it would run: Trivy per platform, and with `scan.fallback` what runs when Trivy cannot. */
async function describe(ctx: PlanContext): Promise<Job[]> {
  if (!ctx.config.scan.enabled) return [];
  const { ignoreFile } = await policyOf(ctx);
  const trivy: Job[] = ctx.config.platforms.map((platform) => ({
    kind: "run",
    spec: {
      ...trivyRun({
        image: ctx.config.images.trivy,
        platform,
        tarball: tarballOf(ctx, platform),
        reportPath: reportOf(platform),
        ...(ignoreFile ? { ignoreFile } : {}),
      }),
      name: `${platform}: trivy`,
    },
  }));
  if (ctx.config.scan.fallback === "none") return trivy;
  // The fallback's shared steps run on the native platform: listed first.
  const native = [...ctx.config.platforms].sort(
    (a, b) => Number(b === nativePlatform()) - Number(a === nativePlatform()),
  );
  const image = (p: string) => `${ctx.config.image.name}:<deploy tag>-${archOf(p)}`;
  return [
    ...trivy,
    ...plannedRuns(native.map((platform) => ({ platform, image: image(platform) }))).map(
      (spec): Job => ({
        kind: "run",
        spec: { ...spec, name: `if Trivy's image or DB cannot be had, ${spec.name}` },
      }),
    ),
  ];
}

async function run(
  ctx: StageContext,
  inputs: { build?: BuildOutput } = {},
): Promise<StageResult<ScanOutput>> {
  if (!ctx.config.scan.enabled)
    return {
      status: "skipped",
      intended: true,
      detail: `scan.enabled is false in ${ctx.config.file}; the image was not scanned`,
    };
  const manifest: BuildManifest = inputs.build?.manifest ?? (await readManifest(ctx.root, "scan"));
  const { policy, ignoreFile } = await policyOf(ctx);
  ctx.log(
    `policy: fail on ${policy.severity.join(", ")}${policy.ignoreUnfixed ? " with a fix available" : ""}; ${policy.ignore.size} accepted in ${ctx.config.scan.ignoreFile}`,
  );
  const cells: CellResult[] = [];
  const scans: PlatformScan[] = [];
  // One at a time: Trivy locks its cache DB, so parallel scans on one volume would wait or time out.
  for (const p of manifest.platforms) {
    const log = ctx.cellLog(p.platform);
    const { cell, value } = await ctx.row(
      p.platform,
      // With a fallback, Trivy being unavailable hands over to it: the row is skipped, not failed.
      (row) =>
        trivyPlatform(ctx, p, row, policy, ignoreFile).catch((e) => {
          if (e instanceof TrivyUnavailable && ctx.config.scan.fallback !== "none") return e;
          throw e;
        }),
      {
        signal: ctx.signal,
        judge: (v) =>
          v instanceof TrivyUnavailable
            ? { status: "skipped", detail: `Trivy unavailable: ${v.reason}` }
            : { status: v.verdict.passed ? "passed" : "failed", detail: summaryLine(v) },
      },
    );
    if (value instanceof TrivyUnavailable)
      return fallback(ctx, builtImages(manifest, inputs.build?.images), policy, value.reason);
    if (value) {
      scans.push(value);
      log(summaryLine(value));
      for (const f of value.verdict.blocking)
        log(
          `blocking: ${f.VulnerabilityID} ${f.Severity} ${f.PkgName} ${f.InstalledVersion ?? ""} → ${f.FixedVersion}`,
        );
    }
    cells.push(cell);
  }
  return outcome(ctx, cells, scans, scans.length ? summaryMarkdown(scans) : undefined);
}

export const scan = {
  name: "scan",
  about:
    "Trivy on each built platform (offline: Debian's security suite); SARIF in reports/trivy.sarif",
  needs: ["build"],
  describe,
  run,
} as const satisfies Stage<ScanOutput, { build?: BuildOutput }>;
