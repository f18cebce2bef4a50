/** `--plan` for scan: Trivy's containers, then the debian-security fallback's unless `scan.fallback: none`. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig } from "../../../../../ci/config.js";
import type { RunSpec } from "../../../../../ci/engine.js";
import { archOf, nativePlatform } from "../../../../../ci/lib/platform.js";
import { stepText } from "../../../../../ci/plan.js";
import type { PlanContext } from "../../../../../ci/stage.js";
import { scan } from "../../../../../ci/stages/scan/index.js";

/** The containers scan describes. */
const plan = async (c: PlanContext): Promise<RunSpec[]> =>
  (await scan.describe(c)).flatMap((j) => (j.kind === "run" ? [j.spec] : []));

const ctx = async (fallback: "debian-security" | "none"): Promise<PlanContext> => {
  const config = await loadConfig();
  return {
    config: { ...config, scan: { ...config.scan, fallback } },
    options: { only: [], failFast: false, push: false, down: false, volumes: false },
    settings: { ci: {}, registry: {}, stackSecrets: {} },
    root: process.cwd(),
  };
};

test("the plan names Trivy first, then what runs if Trivy's image or DB cannot be had", async () => {
  const runs = await plan(await ctx("debian-security"));
  // The shared runs go on the host's own platform (no qemu); each platform's check on its own.
  const native = archOf(nativePlatform());
  const other = native === "amd64" ? "arm64" : "amd64";
  assert.equal(
    runs.map((r) => `${r.name} @ ${r.image}`),
    [
      "linux/amd64: trivy @ aquasec/trivy:0.50.1",
      "linux/arm64: trivy @ aquasec/trivy:0.50.1",
      `if Trivy's image or DB cannot be had, debian-security inspect @ codex-father:<deploy tag>-${native}`,
      `if Trivy's image or DB cannot be had, debian-security update @ codex-father:<deploy tag>-${native}`,
      `if Trivy's image or DB cannot be had, debian-security linux/${native} @ codex-father:<deploy tag>-${native}`,
      `if Trivy's image or DB cannot be had, debian-security linux/${other} @ codex-father:<deploy tag>-${other}`,
      `if Trivy's image or DB cannot be had, debian-security changelogs (when updates are pending) @ codex-father:<deploy tag>-${native}`,
    ],
  );
  const arm = runs.find((r) => r.name.endsWith("debian-security linux/arm64"));
  assert.is(arm?.platform, "linux/arm64");
  assert.ok(
    arm?.steps.map(stepText).includes("APT_CONFIG=/scan/apt-check.conf apt-get -s upgrade"),
  );
});

test("scan.fallback: none plans Trivy only", async () => {
  const runs = await plan(await ctx("none"));
  assert.equal(
    runs.map((r) => r.name),
    ["linux/amd64: trivy", "linux/arm64: trivy"],
  );
});

test.run();
