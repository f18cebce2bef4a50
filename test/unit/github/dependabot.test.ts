import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { parse } from "yaml";

const FILE = ".github/dependabot.yml";

interface Update {
  "package-ecosystem"?: string;
  directory?: string;
  directories?: string[];
  schedule?: { interval?: string };
  ignore?: { "dependency-name"?: string; "update-types"?: string[] }[];
}
interface Dependabot {
  version?: number;
  updates?: Update[];
}

const INTERVALS = ["daily", "weekly", "monthly", "quarterly", "semiannually", "yearly", "cron"];

/** What each ecosystem reads in its directories. */
const READS: Record<string, (dir: string) => boolean> = {
  "github-actions": (dir) => dir === "." && existsSync(".github/workflows"),
  npm: (dir) => existsSync(join(dir, "package.json")) && existsSync(join(dir, "package-lock.json")),
  docker: (dir) => existsSync(join(dir, "Dockerfile")),
};

/** The repo's Dockerfiles outside node_modules and test fixtures, as directories (`docker`, `.devcontainer`). */
function dockerfileDirs(dir = "."): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = dir === "." ? e.name : join(dir, e.name);
    if (e.isDirectory())
      return ["node_modules", ".git", "test"].includes(e.name) ? [] : dockerfileDirs(path);
    return e.name === "Dockerfile" ? [dir] : [];
  });
}

/** Problems of a Dependabot config against this repo: ecosystems, directories, schedules. */
function dependabotProblems(config: Dependabot): string[] {
  const problems: string[] = [];
  if (config.version !== 2) problems.push(`version is ${config.version}, not 2`);
  const updates = config.updates ?? [];
  const dirsOf = (u: Update) =>
    (u.directories ?? (u.directory ? [u.directory] : [])).map((d) => d.replace(/^\/+/, "") || ".");
  for (const u of updates) {
    const eco = u["package-ecosystem"] ?? "?";
    const reads = READS[eco];
    if (!reads) problems.push(`unexpected ecosystem ${eco}`);
    if (!INTERVALS.includes(u.schedule?.interval ?? "")) problems.push(`${eco}: no schedule`);
    for (const d of dirsOf(u))
      if (reads && !reads(d)) problems.push(`${eco}: nothing to update in /${d}`);
  }
  for (const eco of Object.keys(READS))
    if (!updates.some((u) => u["package-ecosystem"] === eco)) problems.push(`${eco} is missing`);
  const docker = updates.filter((u) => u["package-ecosystem"] === "docker").flatMap(dirsOf);
  for (const d of dockerfileDirs())
    if (!docker.includes(d)) problems.push(`docker: /${d}/Dockerfile is not covered`);
  return problems;
}

const text = readFileSync(FILE, "utf8");
const config = parse(text) as Dependabot;

test("dependabot keeps actions, npm and the Dockerfiles' base images current", () => {
  assert.equal(dependabotProblems(config), []);
  assert.equal(
    (config.updates ?? []).map((u) => u["package-ecosystem"]),
    ["github-actions", "npm", "docker"],
  );
  assert.equal(dockerfileDirs().sort(), [
    ".devcontainer",
    "docker",
    "docker/alertmanager",
    "docker/grafana",
    "docker/prometheus",
  ]);
});

test("@types/node stays on the oldest supported line: its majors are ignored", () => {
  const npm = config.updates?.find((u) => u["package-ecosystem"] === "npm");
  const rule = npm?.ignore?.find((i) => i["dependency-name"] === "@types/node");
  assert.equal(rule?.["update-types"], ["version-update:semver-major"]);
  const pkg = JSON.parse(readFileSync("package.json", "utf8"));
  const oldest = /^>=(\d+)$/.exec(pkg.engines.node)?.[1];
  assert.match(pkg.devDependencies["@types/node"], new RegExp(`^\\^${oldest}(\\.|$)`));
});

test("the check catches a missing ecosystem, a wrong directory and an uncovered Dockerfile", () => {
  const without = (eco: string) => ({
    ...config,
    updates: config.updates?.filter((u) => u["package-ecosystem"] !== eco),
  });
  assert.ok(dependabotProblems(without("github-actions")).includes("github-actions is missing"));
  assert.ok(dependabotProblems(without("npm")).includes("npm is missing"));
  assert.ok(dependabotProblems(without("docker")).includes("docker is missing"));
  const narrowed = parse(
    text.replace("/prometheus, /.devcontainer]", "/prometheus]"),
  ) as Dependabot;
  assert.equal(dependabotProblems(narrowed), ["docker: /.devcontainer/Dockerfile is not covered"]);
  const moved = parse(text.replace("[/docker, ", "[/ci, "));
  assert.equal(dependabotProblems(moved), [
    "docker: nothing to update in /ci",
    "docker: /docker/Dockerfile is not covered",
  ]);
  const unscheduled = parse(text.replace(/interval: weekly/, "interval: sometimes"));
  assert.equal(dependabotProblems(unscheduled), ["github-actions: no schedule"]);
});

test.run();
