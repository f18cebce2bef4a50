/**
 * The debian-security scanner's reading of apt, on real output captured in a node:24-bookworm-slim stand-in
 * (test/fixtures/debian/): libexpat1, libzstd1, pam and tzdata pinned to versions older than bookworm-security's,
 * liblzma5 too and held, checked against only bookworm-security and bookworm-updates.
 */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  isSecurityRelease,
  newerSecurityVersion,
  parseIndexTargets,
  parseOsRelease,
  parsePackageFiles,
  parsePolicy,
  parseSimulatedUpgrade,
} from "../../../../../ci/stages/scan/debian/apt.js";
import {
  packageFindingId,
  pendingUpdates,
  toReport,
} from "../../../../../ci/stages/scan/debian/findings.js";
import { debianCodename, scanSources } from "../../../../../ci/stages/scan/debian/sources.js";

const fixture = (name: string) => readFileSync(`test/fixtures/debian/${name}`, "utf8");
const upgrade = parseSimulatedUpgrade(fixture("upgrade-held-and-security.txt"), "upgrade");
const policy = parsePolicy(fixture("policy-held-and-security.txt"), "policy");

test("apt-get -s upgrade: each Inst line's package, versions, releases and arch; held packages kept back", () => {
  assert.equal(
    upgrade.upgrades.map((u) => `${u.pkg} ${u.installed} ${u.candidate} [${u.arch}]`),
    [
      "libpam0g 1.5.2-6+deb12u2 1.5.2-6+deb12u3 [amd64]",
      "libpam-modules-bin 1.5.2-6+deb12u2 1.5.2-6+deb12u3 [amd64]",
      "libpam-modules 1.5.2-6+deb12u2 1.5.2-6+deb12u3 [amd64]",
      "libpam-runtime 1.5.2-6+deb12u2 1.5.2-6+deb12u3 [all]",
      "libzstd1 1.5.4+dfsg2-5 1.5.4+dfsg2-5+deb12u1 [amd64]",
      "tzdata 2026b-0+deb12u1 2026f-0+deb12u1 [all]",
      "libexpat1 2.5.0-1+deb12u2 2.5.0-1+deb12u5 [amd64]",
    ],
  );
  assert.equal(upgrade.upgrades[0]?.releases, ["Debian-Security:12/oldstable-security"]);
  assert.equal(upgrade.keptBack, ["liblzma5"]);
});

test("apt-get -s upgrade: nothing to do is an empty answer; text that is not apt's is an error", () => {
  const none = parseSimulatedUpgrade(
    "Reading package lists...\nBuilding dependency tree...\nReading state information...\nCalculating upgrade...\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n",
    "none",
  );
  assert.equal(none, { upgrades: [], keptBack: [] });
  assert.throws(
    () => parseSimulatedUpgrade("E: Unable to locate package\n", "x.txt"),
    /x\.txt: no "N upgraded/,
  );
  assert.throws(
    () =>
      parseSimulatedUpgrade(
        "Inst libfoo [1 (garbled\n0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.",
        "y.txt",
      ),
    /y\.txt:1: cannot read apt's line "Inst libfoo \[1 \(garbled"/,
  );
});

test("security suites are told apart by suite name, in Inst releases and in policy sources", () => {
  assert.ok(isSecurityRelease("Debian-Security:12/oldstable-security"));
  assert.ok(isSecurityRelease("bookworm-security/main"));
  assert.not.ok(isSecurityRelease("Debian:12.13/oldstable"));
  assert.not.ok(isSecurityRelease("bookworm-updates/main"));
  assert.not.ok(isSecurityRelease(""));
});

test("apt-cache policy: versions in apt's order; a security version above the installed one is found by position", () => {
  const byName = new Map(policy.map((e) => [e.pkg, e]));
  const lzma = byName.get("liblzma5");
  assert.is(lzma?.installed, "5.4.1-1+deb12u1");
  assert.is(lzma?.candidate, "5.4.1-1+deb12u2");
  assert.equal(
    lzma?.versions.map((v) => [v.version, v.installed]),
    [
      ["5.4.1-1+deb12u2", false],
      ["5.4.1-1+deb12u1", true],
    ],
  );
  assert.is(newerSecurityVersion(lzma as NonNullable<typeof lzma>), "5.4.1-1+deb12u2");
  // The installed version is newer than bookworm-security's (a point release superseded it): no finding.
  const util = byName.get("util-linux");
  assert.is(util?.versions[0]?.installed, true);
  assert.is(newerSecurityVersion(util as NonNullable<typeof util>), undefined);
  // Only the status file knows bash: nothing newer anywhere.
  assert.is(newerSecurityVersion(byName.get("bash") as NonNullable<typeof lzma>), undefined);
  assert.throws(() => parsePolicy("  Installed: 1\n", "p.txt"), /p\.txt:1: .* before any package/);
});

test("pending updates: every security upgrade, plus the held package the simulation only keeps back", () => {
  const { security, other } = pendingUpdates(upgrade, policy, "amd64");
  assert.equal(security.map((p) => `${p.pkg} ${p.fixed}${p.keptBack ? " kept back" : ""}`).sort(), [
    "libexpat1 2.5.0-1+deb12u5",
    "liblzma5 5.4.1-1+deb12u2 kept back",
    "libpam-modules 1.5.2-6+deb12u3",
    "libpam-modules-bin 1.5.2-6+deb12u3",
    "libpam-runtime 1.5.2-6+deb12u3",
    "libpam0g 1.5.2-6+deb12u3",
    "libzstd1 1.5.4+dfsg2-5+deb12u1",
    "tzdata 2026f-0+deb12u1",
  ]);
  assert.equal(security.find((p) => p.pkg === "liblzma5")?.releases, ["bookworm-security/main"]);
  assert.equal(other, []);
});

test("the report: one finding per CVE ID with the fixed version, one per package where the changelog names none", () => {
  const { security } = pendingUpdates(upgrade, policy, "amd64");
  const report = toReport({
    image: "img:t-amd64",
    codename: "bookworm",
    arch: "amd64",
    pending: security.filter((p) => p.pkg === "libexpat1" || p.pkg === "liblzma5"),
    cves: new Map([["libexpat1", ["CVE-2026-56132", "CVE-2025-59375"]]]),
  });
  const vulns = report.Results?.[0]?.Vulnerabilities ?? [];
  assert.equal(
    vulns.map((v) => [v.VulnerabilityID, v.PkgName, v.InstalledVersion, v.FixedVersion]),
    [
      ["CVE-2026-56132", "libexpat1", "2.5.0-1+deb12u2", "2.5.0-1+deb12u5"],
      ["CVE-2025-59375", "libexpat1", "2.5.0-1+deb12u2", "2.5.0-1+deb12u5"],
      [packageFindingId("liblzma5"), "liblzma5", "5.4.1-1+deb12u1", "5.4.1-1+deb12u2"],
    ],
  );
  assert.match(vulns[2]?.Title ?? "", "kept back by apt");
  assert.is(report.Metadata?.ImageConfig?.architecture, "amd64");
});

test("package files: only suites whose lists are present, with their Release fields", () => {
  const files = parsePackageFiles(fixture("package-files.txt"));
  assert.equal(
    files.map((f) => [f.suite, f.component, f.arch, f.release.a]),
    [
      ["bookworm-updates", "main", "amd64", "oldstable-updates"],
      ["bookworm-security", "main", "amd64", "oldstable-security"],
    ],
  );
  assert.equal(
    parsePackageFiles("Package files:\n 100 /var/lib/dpkg/status\n     release a=now\n"),
    [],
  );
});

test("sources: an image with both suites keeps its own; one without gets them on its mirror, said so", () => {
  const os = parseOsRelease(fixture("os-release-bookworm.txt"));
  assert.equal(os.versionCodename, "bookworm");
  const codename = debianCodename(os, "img");
  const own = scanSources(
    parseIndexTargets(fixture("indextargets-node-stand-in.txt"), "t"),
    codename,
  );
  assert.equal(own.added, []);
  assert.equal(own.suites, ["bookworm-security", "bookworm-updates"]);
  assert.match(own.list, "http://deb.debian.org/debian-security/ bookworm-security main\n");
  assert.not.match(own.list, / bookworm main/);
  const mirror = scanSources(
    parseIndexTargets(fixture("indextargets-mirror-main-only.txt"), "m"),
    codename,
  );
  assert.equal(mirror.added, ["bookworm-security", "bookworm-updates"]);
  assert.is(
    mirror.list,
    "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example.internal/debian-security/ bookworm-security main contrib\n" +
      "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://mirror.example.internal/debian/ bookworm-updates main contrib\n",
  );
  assert.throws(() => parseIndexTargets("only-a-uri\n", "it.txt"), /it\.txt:1: expected "URI<TAB>/);
});

test("an image that is not Debian, or has no release codename, is a clear error", () => {
  assert.throws(
    () =>
      debianCodename(parseOsRelease('ID=alpine\nPRETTY_NAME="Alpine Linux v3.20"\n'), "alpine:3"),
    /alpine:3 is Alpine Linux v3\.20; the debian-security scanner checks Debian images only/,
  );
  assert.throws(
    () => debianCodename(parseOsRelease("ID=debian\n"), "debian:sid"),
    /debian:sid: \/etc\/os-release has no VERSION_CODENAME/,
  );
});

test.run();
