/**
 * The containers of the debian-security scanner, as engine RunSpecs. Every one starts from a scanned image
 * (a parameter: a local tag today, an engine handle once stages pass images in memory) and runs as root,
 * since apt needs it and the app image's own USER is unprivileged.
 *
 * 1. inspect (native platform): /etc/os-release and the image's apt sources, from which the host writes
 *    the check's sources.list (the image's security and updates suites, added where it lacks them).
 * 2. update (native platform): one `apt-get update` for every scanned architecture into the cache volume:
 *    the suites' Packages lists are fetched once per run, and not again while the mirror has nothing new.
 * 3. check (each platform, on that platform: qemu for arm64): `apt-get -s upgrade` and `apt-cache policy`
 *    over those lists, and `node --version`. apt compares every version.
 * 4. changelogs (native platform, only with findings): each fixed version's changelog.Debian.gz, cached by
 *    package and version in the cache volume, cut at the installed version.
 */
import { createHash } from "node:crypto";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunSpec, Step } from "../../../engine.js";

/** The scanner's cache volume: apt lists per sources, changelogs per package and version. */
export const CACHE_VOLUME = "codex-ci-debian-security";
const CACHE_DIR = "/var/cache/codex-scan";
/** Where the host's files (sources, apt.conf, the script) appear in the containers. */
const SCAN_DIR = "/scan";
const SOURCES = `${SCAN_DIR}/sources.list`;
const FETCH_CONF = `${SCAN_DIR}/apt-fetch.conf`;
const CHECK_CONF = `${SCAN_DIR}/apt-check.conf`;
const SCRIPT = `${SCAN_DIR}/changelogs.sh`;
const CHANGELOGS_OUT = "/tmp/codex-scan-changelogs";
/** The changelog script beside this file. */
export const CHANGELOG_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "changelogs.sh");

/** Steps whose output the log leaves out (hundreds of lines); the scan keeps it in its reports. */
export const QUIET_STEPS = ["os-release", "apt sources", "package files", "apt-cache policy"];

/** The host files a scan writes before its containers run (repo-relative under reports/). */
export interface AptFiles {
  sources: string;
  fetchConf: string;
  checkConf: string;
}

/** The lists directory in the cache volume for a sources.list: its own per sources, so images with different mirrors do not evict each other. */
export function listsDir(sourcesList: string): string {
  return `${CACHE_DIR}/lists/${createHash("sha256").update(sourcesList).digest("hex").slice(0, 12)}`;
}

/**
 * The scan's apt.conf (passed as APT_CONFIG): only the check's sources, lists in the cache volume, no
 * translations, downloads as root (the image's _apt user may not own the volume). `arches` for the fetching
 * runs: every scanned architecture's lists in one update, any architecture's .deb in one download.
 */
export function aptConf(lists: string, arches?: string[]): string {
  return [
    `Dir::Etc::SourceList "${SOURCES}";`,
    `Dir::Etc::SourceParts "${SCAN_DIR}/no-sources.list.d";`,
    `Dir::State::Lists "${lists}";`,
    'Acquire::Languages "none";',
    'Acquire::Retries "3";',
    'APT::Sandbox::User "root";',
    ...(arches?.length
      ? [`APT::Architectures { ${arches.map((a) => `"${a}";`).join(" ")} };`]
      : []),
    "",
  ].join("\n");
}

/** The scanned image as root on its platform. */
const base = (name: string, image: string, platform: string) => ({
  name,
  image,
  platform,
  user: "root",
});

/** The image's own view: its OS and the apt sources it is configured with. */
const inspectSteps: Step[] = [
  { name: "os-release", args: ["cat", "/etc/os-release"] },
  {
    name: "apt sources",
    args: [
      "apt-get",
      "indextargets",
      "--no-release-info",
      "--format",
      "$(REPO_URI)\t$(RELEASE)\t$(COMPONENT)",
      "Identifier: Packages",
    ],
  },
];

/** Step 1: the native image's OS and apt sources. */
export function inspectRun(image: string, platform: string): RunSpec {
  return { ...base("debian-security inspect", image, platform), steps: inspectSteps };
}

/** The host files as container files. */
const aptFiles = (files: AptFiles) => [
  { from: files.sources, to: SOURCES },
  { from: files.fetchConf, to: FETCH_CONF },
  { from: files.checkConf, to: CHECK_CONF },
];

/** Step 2: one `apt-get update` of the check's suites for every architecture, under a lock (runs share the volume). */
export function updateRun(
  image: string,
  platform: string,
  files: AptFiles,
  lists: string,
): RunSpec {
  const env = { APT_CONFIG: FETCH_CONF };
  return {
    ...base("debian-security update", image, platform),
    files: aptFiles(files),
    caches: { [CACHE_DIR]: CACHE_VOLUME },
    steps: [
      { name: "lists dir", args: ["mkdir", "-p", `${lists}/partial`] },
      {
        name: "apt-get update",
        // --error-on=any: a suite that cannot be fetched fails the scan instead of leaving old or no lists.
        args: ["flock", "-w", "600", `${lists}.lock`, "apt-get", "update", "--error-on=any"],
        env,
      },
    ],
  };
}

/** Step 3: apt's answers for one platform's image, on that platform. */
export function checkRun(image: string, platform: string, files: AptFiles): RunSpec {
  const env = { APT_CONFIG: CHECK_CONF };
  return {
    ...base(`debian-security ${platform}`, image, platform),
    files: aptFiles(files),
    caches: { [CACHE_DIR]: CACHE_VOLUME },
    steps: [
      { name: "os-release", args: ["cat", "/etc/os-release"] },
      { name: "package files", args: ["apt-cache", "policy"], env },
      { name: "apt-get -s upgrade", args: ["apt-get", "-s", "upgrade"], env },
      {
        name: "apt-cache policy",
        // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not JavaScript's
        args: ["sh", "-c", "apt-cache policy $(dpkg-query -W -f '${binary:Package}\\n')"],
        env,
      },
      { name: "node --version", args: ["node", "--version"], allowFailure: true },
    ],
  };
}

/** One package for the changelog script: `<pkg>:<arch>=<installed>=<fixed>`. */
export interface ChangelogItem {
  pkg: string;
  arch: string;
  installed: string;
  fixed: string;
}

/** Step 4: the changelog excerpts of `items`, copied to `outDir` on the host as `<N>.changelog` (N from 1). */
export function changelogRun(
  image: string,
  platform: string,
  files: AptFiles,
  items: ChangelogItem[],
  outDir: string,
): RunSpec {
  return {
    ...base("debian-security changelogs", image, platform),
    files: [...aptFiles(files), { from: CHANGELOG_SCRIPT, to: SCRIPT }],
    caches: { [CACHE_DIR]: CACHE_VOLUME },
    steps: [
      {
        name: "changelogs",
        args: [
          "sh",
          SCRIPT,
          CACHE_DIR,
          CHANGELOGS_OUT,
          ...items.map((i) => `${i.pkg.split(":")[0]}:${i.arch}=${i.installed}=${i.fixed}`),
        ],
        env: { APT_CONFIG: FETCH_CONF },
      },
    ],
    outputs: { [CHANGELOGS_OUT]: outDir },
  };
}

/** The containers a scan of `targets` runs, for `--plan` (the first is the native platform's). */
export function plannedRuns(targets: { platform: string; image: string }[]): RunSpec[] {
  const [native] = targets;
  if (!native) return [];
  const files: AptFiles = { sources: "", fetchConf: "", checkConf: "" };
  const lists = `${CACHE_DIR}/lists/<sources hash>`;
  const item = { pkg: "<pkg>", arch: "<arch>", installed: "<installed>", fixed: "<fixed>" };
  const last = changelogRun(native.image, native.platform, files, [item], "");
  return [
    inspectRun(native.image, native.platform),
    updateRun(native.image, native.platform, files, lists),
    ...targets.map((t) => checkRun(t.image, t.platform, files)),
    { ...last, name: `${last.name} (when updates are pending)` },
  ];
}
