/**
 * scan: Trivy on each built platform's tarball (`trivy image --input`, no daemon), with its vulnerability DB in
 * a cache volume. Trivy reports every severity; the gate (gate.ts) applies the policy from config and
 * `.trivyignore`, so the summary can count everything while only what the policy names fails. Writes the JSON
 * per platform and one SARIF under reports/.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { produceAtomic, writeJsonAtomic } from "../../lib/files.js";
import { archOf } from "../../lib/platform.js";
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
import { evaluate, parseSeverities, type ScanPolicy } from "./gate.js";
import { activeIgnores, parseIgnoreFile } from "./ignore.js";
import { toSarif } from "./sarif.js";
import { type PlatformScan, summaryLine, summaryMarkdown } from "./summary.js";
import { explainTrivy, trivyRun } from "./trivy.js";
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

/** Scans one platform and judges the report. */
async function scanPlatform(
  ctx: StageContext,
  p: BuiltPlatform,
  row: RowHooks,
  policy: ScanPolicy,
  ignoreFile?: string,
): Promise<PlatformScan> {
  if (!p.tarball)
    throw new Error(
      `no tarball for ${p.platform} (built with --push?); run build without --push to scan`,
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

/** The containers it would run: one Trivy per platform. */
async function describe(ctx: PlanContext): Promise<Job[]> {
  if (!ctx.config.scan.enabled) return [];
  const { ignoreFile } = await policyOf(ctx);
  return ctx.config.platforms.map((platform) => ({
    kind: "run",
    spec: trivyRun({
      image: ctx.config.images.trivy,
      platform,
      tarball: tarballOf(ctx, platform),
      reportPath: reportOf(platform),
      ...(ignoreFile ? { ignoreFile } : {}),
    }),
  }));
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
      (row) => scanPlatform(ctx, p, row, policy, ignoreFile),
      {
        signal: ctx.signal,
        judge: (v) => ({ status: v.verdict.passed ? "passed" : "failed", detail: summaryLine(v) }),
      },
    );
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
  if (scans.length > 0)
    await writeJsonAtomic(join(ctx.root, SARIF_FILE), toSarif(scans, DOCKERFILE));
  const failed = cells.filter((c) => c.status !== "passed");
  const markdown = scans.length ? summaryMarkdown(scans) : undefined;
  const output: ScanOutput = { scans };
  if (failed.length > 0 || scans.length === 0)
    return {
      status: "failed",
      detail:
        failed
          .map((c) => (c.detail?.startsWith(`${c.name}:`) ? c.detail : `${c.name}: ${c.detail}`))
          .join("; ") || "nothing was scanned",
      cells,
      output,
      ...(markdown ? { markdown } : {}),
    };
  return {
    status: "passed",
    detail: scans.map(summaryLine).join("; "),
    cells,
    output,
    ...(markdown ? { markdown } : {}),
  };
}

export const scan = {
  name: "scan",
  about: "Trivy on each built platform; SARIF in reports/trivy.sarif",
  needs: ["build"],
  describe,
  run,
} as const satisfies Stage<ScanOutput, { build?: BuildOutput }>;
