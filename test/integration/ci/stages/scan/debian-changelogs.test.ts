/**
 * ci/stages/scan/debian/changelogs.sh on this machine's sh and dpkg: the excerpt it cuts from a cached changelog is
 * exactly the entries newer than the installed version, with dpkg --compare-versions (not string matching)
 * deciding where to stop. The cache is filled beforehand, so no apt download runs here.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cveIds, parseChangelog } from "../../../../../ci/stages/scan/debian/changelog.js";
import { CHANGELOG_SCRIPT } from "../../../../../ci/stages/scan/debian/runs.js";

const FIXTURES = "test/fixtures/debian";
const FIXED = "2.5.0-1+deb12u5";

test("cut at the installed version by dpkg's ordering: exact, binNMU, epoch, and the cache named by package and version", () => {
  const dir = mkdtempSync(join(tmpdir(), "codex-changelogs-"));
  try {
    mkdirSync(join(dir, "cache/changelogs"), { recursive: true });
    const full = readFileSync(join(FIXTURES, `changelog-libexpat1-${FIXED}-full.txt`));
    writeFileSync(join(dir, `cache/changelogs/libexpat1_${FIXED}.gz`), gzipSync(full));
    const installed = ["2.5.0-1+deb12u2", "2.5.0-1+deb12u4", "2.5.0-1+deb12u3+b1", "1:2.0"];
    const r = spawnSync(
      "sh",
      [
        CHANGELOG_SCRIPT,
        join(dir, "cache"),
        join(dir, "out"),
        ...installed.map((v) => `libexpat1:amd64=${v}=${FIXED}`),
      ],
      { encoding: "utf8" },
    );
    assert.is(r.status, 0, r.stderr);
    assert.equal(
      r.stdout.trim().split("\n"),
      installed.map((_, i) => `${i + 1} libexpat1 ${FIXED}: cached`),
    );
    const out = (n: number) => readFileSync(join(dir, "out", `${n}.changelog`), "utf8");
    const versions = (n: number) => parseChangelog(out(n), `${n}`).map((e) => e.version);
    // Exactly the excerpt saved from a real scan of an image with 2.5.0-1+deb12u2.
    assert.is(
      out(1),
      readFileSync(join(FIXTURES, "changelog-libexpat1-since-2.5.0-1+deb12u2.txt"), "utf8"),
    );
    assert.equal(versions(2), ["2.5.0-1+deb12u5"]);
    // A binNMU of deb12u3 is not in the changelog; dpkg puts it after deb12u3, so deb12u3's entry is left out.
    assert.equal(versions(3), ["2.5.0-1+deb12u5", "2.5.0-1+deb12u4"]);
    // An epoch outranks every version without one: nothing in this changelog is newer.
    assert.equal(versions(4), []);
    assert.ok(cveIds(parseChangelog(out(2), "2")).includes("CVE-2026-56132"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
