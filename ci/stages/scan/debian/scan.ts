/**
 * The debian-security scanner: the scan stage's fallback when Trivy's image or DB cannot be had. It needs
 * only a Debian mirror: apt in a container of each scanned image names the installed packages the security
 * suite has newer versions of, and their changelogs name the CVE IDs those versions fix. Findings go through
 * the same gate, `.trivyignore`, SARIF and summary as Trivy's. See runs.ts for the containers.
 */
import { mkdir, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { SEVERITIES } from "../../../config.js";
import type { LineSink, RunSpec, StepResult } from "../../../engine.js";
import { writeAtomic } from "../../../lib/files.js";
import { archOf, nativePlatform } from "../../../lib/platform.js";
import type { CellResult, StageContext } from "../../../stage.js";
import { evaluate, type ScanPolicy } from "../gate.js";
import type { PlatformScan, Scanner } from "../summary.js";
import { summaryLine } from "../summary.js";
import {
  type PackageFile,
  parseIndexTargets,
  parseOsRelease,
  parsePackageFiles,
  parsePolicy,
  parseSimulatedUpgrade,
} from "./apt.js";
import { cveIds, parseChangelog } from "./changelog.js";
import { type PendingUpdate, pendingUpdates, toReport } from "./findings.js";
import { newerInMajor, nodePackage, parseNodeVersion, publishedVersions } from "./node.js";
import {
  type AptFiles,
  aptConf,
  type ChangelogItem,
  changelogRun,
  checkRun,
  inspectRun,
  listsDir,
  QUIET_STEPS,
  updateRun,
} from "./runs.js";
import { debianCodename, type ScanSources, scanSources } from "./sources.js";

export const DEBIAN_SECURITY: Scanner = {
  name: "debian-security",
  informationUri: "https://www.debian.org/security/",
  unrated: true,
};

/** Where its reports go, under the repo root. */
export const REPORT_DIR = join("reports", "debian-security");

/** The one summary line on what an offline scan leaves out. */
export const NPM_NOT_COVERED =
  "npm packages in the image (node_modules) are not scanned: without Trivy's DB or npm's audit endpoint there is no advisory data offline.";

/** One image to scan: its platform and how the engine reaches it. */
export interface ScanTarget {
  platform: string;
  image: string;
}

/** What a debian-security scan gives back. */
export interface DebianScan {
  scans: PlatformScan[];
  cells: CellResult[];
}

/** apt's answers for one platform. */
interface Checked {
  target: ScanTarget;
  codename: string;
  pending: PendingUpdate[];
  /** Upgrades from the updates suite only (not security): counted in a note. */
  otherUpgrades: number;
  node?: string;
}

/** A step's stdout by name. */
function out(steps: StepResult[], name: string): string {
  const s = steps.find((x) => x.name === name);
  if (!s) throw new Error(`no output from step "${name}"`);
  return s.stdout;
}

/**
 * A log sink that shows each step's command but leaves out the output of `quiet` steps (hundreds of lines of
 * apt-cache policy); the scan keeps that output in its reports instead.
 */
function muting(log: LineSink, quiet: string[]): LineSink {
  let muted = false;
  return (line) => {
    if (line.startsWith("$ ")) {
      muted = quiet.some((q) => line === `$ ${q}`);
      log(muted ? `${line}   (output kept in ${REPORT_DIR}/)` : line);
    } else if (!muted) log(line);
  };
}

/** Runs one container; a built image the engine cannot find gets a message that says so. */
async function run(ctx: StageContext, spec: RunSpec, cell: string): Promise<StepResult[]> {
  const quiet = spec.steps.filter((s) => QUIET_STEPS.includes(s.name)).map((s) => s.args.join(" "));
  const log = quiet.length ? muting(ctx.cellLog(cell), quiet) : ctx.cellLog(cell);
  try {
    return (await ctx.engine.run({ ...spec, log, signal: ctx.signal })).steps;
  } catch (e) {
    const text = `${(e as Error).message}\n${(e as { stderr?: string }).stderr ?? ""}`;
    if (
      /pull access denied|unable to find image|no such image|repository does not exist|manifest unknown/i.test(
        text,
      )
    )
      throw new Error(
        `the built image ${spec.image} (${spec.platform}) is not in the engine's image store; run the build stage again`,
      );
    // apt says what went wrong (an unreachable mirror, a bad signature) on its E: lines.
    const apt = ((e as { tail?: string }).tail ?? "")
      .split("\n")
      .filter((l) => l.startsWith("E: ") && !l.startsWith("E: Some index files failed"))
      .slice(0, 2);
    if (apt.length) throw new Error(`${(e as Error).message}: ${apt.join(" ")}`);
    throw e;
  }
}

/** The check's suites must have lists for the platform, or apt would see no updates and report a pass. */
function assertLists(files: PackageFile[], sources: ScanSources, platform: string): void {
  const arch = archOf(platform);
  const missing = sources.suites.filter(
    (s) => !files.some((f) => f.suite === s && (f.arch === arch || f.arch === "all")),
  );
  if (missing.length)
    throw new Error(
      `apt has no ${arch} lists for ${missing.join(", ")} after the update; the mirror may lack ${arch}`,
    );
}

/** Step 3 for one platform, read into pending updates. */
async function check(
  ctx: StageContext,
  target: ScanTarget,
  files: AptFiles,
  sources: ScanSources,
): Promise<Checked> {
  const steps = await run(ctx, checkRun(target.image, target.platform, files), target.platform);
  // apt's own words, kept beside the report for whoever reviews a finding.
  const raw = join(ctx.root, REPORT_DIR, archOf(target.platform));
  await mkdir(raw, { recursive: true });
  for (const s of steps)
    await writeAtomic(
      join(raw, `${s.name.replace(/[^\w.]+/g, "-")}.txt`),
      `${s.stdout}${s.stderr}`,
    );
  const where = `${target.image} (${target.platform})`;
  const codename = debianCodename(parseOsRelease(out(steps, "os-release")), target.image);
  if (codename !== sources.codename)
    throw new Error(
      `${where} is Debian ${codename}, but the scan's sources are for ${sources.codename}`,
    );
  assertLists(parsePackageFiles(out(steps, "package files")), sources, target.platform);
  const upgrade = parseSimulatedUpgrade(
    out(steps, "apt-get -s upgrade"),
    `${where}: apt-get -s upgrade`,
  );
  const policy = parsePolicy(out(steps, "apt-cache policy"), `${where}: apt-cache policy`);
  const { security, other } = pendingUpdates(upgrade, policy, archOf(target.platform));
  const nodeStep = steps.find((s) => s.name === "node --version");
  const node = nodeStep?.exitCode === 0 ? parseNodeVersion(nodeStep.stdout) : undefined;
  return {
    target,
    codename,
    pending: security,
    otherUpgrades: other.length,
    ...(node ? { node } : {}),
  };
}

/** Step 4: the CVE IDs each pending update's changelog names, keyed by `pkg installed fixed`. */
async function changelogCves(
  ctx: StageContext,
  native: ScanTarget,
  files: AptFiles,
  items: ChangelogItem[],
): Promise<Changelogs> {
  const cves = new Map<string, string[]>();
  const missing = new Set<string>();
  if (items.length === 0) return { cves, missing };
  const dir = join(ctx.root, REPORT_DIR, "changelogs");
  await rm(dir, { recursive: true, force: true });
  await run(ctx, changelogRun(native.image, native.platform, files, items, dir), "debian-security");
  const present = new Set(await readdir(dir).catch(() => [] as string[]));
  for (const [i, item] of items.entries()) {
    const file = `${i + 1}.changelog`;
    if (!present.has(file)) {
      missing.add(changelogKey(item));
      continue;
    }
    const text = await readFile(join(dir, file), "utf8");
    // Named after the package and versions, so the excerpt is readable beside the report.
    await rename(
      join(dir, file),
      join(dir, `${item.pkg}_${item.installed}_${item.fixed}.changelog`),
    );
    cves.set(
      changelogKey(item),
      cveIds(parseChangelog(text, `${item.pkg} ${item.fixed} changelog`)),
    );
  }
  return { cves, missing };
}

/** The CVE IDs per pending update, the updates without a changelog, and why none could be read at all. */
interface Changelogs {
  cves: Map<string, string[]>;
  missing: Set<string>;
  failure?: string;
}

const changelogKey = (p: { pkg: string; installed: string; fixed: string }) =>
  `${p.pkg} ${p.installed} ${p.fixed}`;

/** The warning when npm has a newer Node of the image's major, or undefined. */
async function nodeWarning(
  platform: string,
  installed: string,
  published: Promise<string[]> | undefined,
): Promise<string | undefined> {
  const pkg = nodePackage(platform);
  try {
    const newer = newerInMajor(installed, (await published) ?? []);
    return newer
      ? `Node ${installed} in the image; ${pkg} ${newer} is the newest of its major on npm (rebuild on the newer base image)`
      : undefined;
  } catch (e) {
    return `Node ${installed} in the image could not be checked against npm: ${(e as Error).message}`;
  }
}

/**
 * Scans every target; per-platform failures are failed cells, a failure shared by all (sources, mirror) throws.
 * `policy` gives the accepted entries; its severities do not apply, since every pending security update fails.
 */
export async function debianSecurityScan(
  ctx: StageContext,
  targets: ScanTarget[],
  policy: ScanPolicy,
): Promise<DebianScan> {
  const native = targets.find((t) => t.platform === nativePlatform()) ?? targets[0];
  if (!native) throw new Error("no image to scan");
  const dir = join(ctx.root, REPORT_DIR);
  await mkdir(dir, { recursive: true });
  // Node's releases on npm, asked now so the answer is in by the time the checks say which Node each image has.
  const npm = new Map(
    [...new Set(targets.map((t) => nodePackage(t.platform)))].map((pkg) => {
      const versions = publishedVersions(pkg);
      versions.catch(() => {}); // read (and reported) by nodeWarning; unread when no image has Node
      return [pkg, versions] as const;
    }),
  );

  // 1. The native image's OS and apt sources give the check's sources.
  const seen = await run(ctx, inspectRun(native.image, native.platform), "debian-security");
  const codename = debianCodename(parseOsRelease(out(seen, "os-release")), native.image);
  const sources = scanSources(
    parseIndexTargets(out(seen, "apt sources"), `${native.image}: apt sources`),
    codename,
  );
  const lists = listsDir(sources.list);
  const files: AptFiles = {
    sources: join(dir, "sources.list"),
    fetchConf: join(dir, "apt-fetch.conf"),
    checkConf: join(dir, "apt-check.conf"),
  };
  const arches = [...new Set(targets.map((t) => archOf(t.platform)))];
  await writeAtomic(files.sources, sources.list);
  await writeAtomic(files.fetchConf, aptConf(lists, arches));
  await writeAtomic(files.checkConf, aptConf(lists));
  ctx.log(
    `debian-security: checking ${targets.map((t) => `${t.image} (${t.platform})`).join(", ")} against ${sources.suites.join(" and ")}${sources.added.length ? `; the image's apt sources lack ${sources.added.join(" and ")}, added for the check` : ""}`,
  );

  // 2. The suites' lists, once for every architecture.
  await run(ctx, updateRun(native.image, native.platform, files, lists), "debian-security");

  // 3. apt's answers, each platform on its own (in parallel, as --jobs allows).
  const cells: CellResult[] = [];
  const started = new Map<string, number>();
  const checked = await Promise.all(
    targets.map(async (t) => {
      started.set(t.platform, Date.now());
      try {
        return await check(ctx, t, files, sources);
      } catch (e) {
        const detail = (e as Error).message.split("\n")[0] as string;
        ctx.cellLog(t.platform)(detail);
        cells.push({
          name: t.platform,
          status: "failed",
          durationMs: Date.now() - (started.get(t.platform) ?? Date.now()),
          detail,
        });
        return undefined;
      }
    }),
  );
  const done = checked.filter((c): c is Checked => c !== undefined);

  // 4. CVE IDs from the changelogs (one run for every platform; the cache makes repeats free), and Node
  // against npm meanwhile.
  const items = new Map<string, ChangelogItem>();
  for (const c of done)
    for (const p of c.pending) if (!items.has(changelogKey(p))) items.set(changelogKey(p), p);
  const warnings = Promise.all(
    done.map((c) =>
      c.node
        ? nodeWarning(c.target.platform, c.node, npm.get(nodePackage(c.target.platform)))
        : undefined,
    ),
  );
  let changelogs: Changelogs;
  try {
    changelogs = await changelogCves(ctx, native, files, [...items.values()]);
  } catch (e) {
    // The pending updates still fail the scan; only their CVE IDs are unknown.
    const failure = (e as Error).message.split("\n")[0] as string;
    ctx.log(`debian-security: changelogs could not be read: ${failure}`);
    changelogs = { cves: new Map(), missing: new Set(), failure };
  }
  const nodeWarnings = await warnings;

  const scans: PlatformScan[] = [];
  for (const [i, c] of done.entries()) {
    const arch = archOf(c.target.platform);
    const cves = new Map(c.pending.map((p) => [p.pkg, changelogs.cves.get(changelogKey(p)) ?? []]));
    const report = toReport({
      image: c.target.image,
      codename: c.codename,
      arch,
      pending: c.pending,
      cves,
    });
    await writeAtomic(join(dir, `${arch}.json`), `${JSON.stringify(report, null, 2)}\n`);
    const notes = [
      // The platforms' images come from one Dockerfile: the native one's sources stand for all.
      ...(sources.added.length
        ? [
            `the image's apt sources lack ${sources.added.join(" and ")}: added for the check; apt-get upgrade in the image would not see these fixes`,
          ]
        : []),
      ...c.pending
        .filter((p) => p.keptBack)
        .map((p) => `${p.pkg} is kept back by apt (held, or its upgrade needs new packages)`),
      ...(c.otherUpgrades
        ? [`${c.otherUpgrades} other upgrade(s) pending from ${codename}-updates (not security)`]
        : []),
      ...(c.node ? [] : ["no node binary on the image's PATH: nothing to check against npm"]),
      ...c.pending
        .filter((p) => changelogs.missing.has(changelogKey(p)))
        .map((p) => `${p.pkg} ${p.fixed}: no changelog found, so the finding is the package`),
      ...(changelogs.failure && c.pending.length
        ? [`changelogs could not be read (${changelogs.failure}), so each finding is a package`]
        : []),
    ];
    const warning = nodeWarnings[i];
    const scan: PlatformScan = {
      platform: c.target.platform,
      // No severities offline: every pending security update fails, whatever scan.severity says.
      verdict: evaluate(report, { ...policy, severity: [...SEVERITIES] }),
      scanner: DEBIAN_SECURITY,
      ...(warning ? { warnings: [warning] } : {}),
      ...(notes.length ? { notes } : {}),
    };
    scans.push(scan);
    const log = ctx.cellLog(c.target.platform);
    log(summaryLine(scan));
    for (const f of scan.verdict.blocking)
      log(
        `blocking: ${f.VulnerabilityID} ${f.PkgName} ${f.InstalledVersion ?? ""} → ${f.FixedVersion}`,
      );
    if (warning) log(`warning: ${warning}`);
    cells.push({
      name: c.target.platform,
      status: scan.verdict.passed ? "passed" : "failed",
      durationMs: Date.now() - (started.get(c.target.platform) ?? Date.now()),
      detail: summaryLine(scan),
    });
  }
  return { scans, cells };
}
