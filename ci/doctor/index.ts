/**
 * `doctor` checks every prerequisite of the kit and prints what is there, what is missing, and the fix.
 * `doctor --fix` (`npm run setup`) fixes what it can on Debian/Ubuntu as root: Debian packages,
 * qemu binfmt, a background dockerd, and the offline base images when no registry answers.
 * Exit code: 1 when something needed is still missing, else 0.
 */
import type { PipelineConfig } from "../config.js";
import { localRows } from "../lib/cells.js";
import type { RowRunner } from "../progress.js";
import { type CheckResult, type DoctorContext, defaultContext } from "./check.js";
import {
  buildKitCheck,
  buildxCheck,
  clientCheck,
  composeCheck,
  daemonCheck,
  dockerClients,
} from "./docker-checks.js";
import { aptInstall, buildablePlatforms, enableBinfmt, startDockerd } from "./fix.js";
import { caCheck, offlineImagesCheck, registryCheck } from "./network.js";
import { renderTable } from "./table.js";
import { binaryCheck, daggerCheck, nodeCheck, qemuCheck, sdkCliVersion } from "./tools.js";

/** Options of `doctor`; `context` overrides the probed environment (tests). */
export interface DoctorOptions {
  fix: boolean;
  config: PipelineConfig;
  /** Builds the offline base images for these platforms (`images --offline`, given by the entry). */
  buildImages: (platforms: string[]) => Promise<void>;
  context?: Partial<DoctorContext>;
  log?: (line: string) => void;
  /** Each fix as a row of the entry's display (its output in the row's log), and the end of the fixes. */
  fixes?: { row: RowRunner; done(): void };
}

/** Runs every check, concurrently where they are independent. */
export async function runChecks(ctx: DoctorContext): Promise<CheckResult[]> {
  const [sdk, clients] = await Promise.all([sdkCliVersion(), dockerClients(ctx)]);
  const [dagger, daemon, compose, qemu, registry, ca] = await Promise.all([
    daggerCheck(ctx, sdk),
    daemonCheck(ctx, clients),
    composeCheck(ctx, clients),
    qemuCheck(ctx),
    registryCheck(ctx),
    caCheck(ctx),
  ]);
  const offline = registry.status !== "ok";
  const tools = await Promise.all([
    binaryCheck(ctx, "promtool", "prometheus", "lint checks of the alert rules", true),
    binaryCheck(ctx, "amtool", "prometheus-alertmanager", "lint checks of alertmanager.yml", true),
    binaryCheck(ctx, "mmdebstrap", "mmdebstrap", "builds the offline base images", offline),
    binaryCheck(
      ctx,
      "docker-registry",
      "docker-registry",
      "local registry of the build stage's --push e2e test",
      false,
      ["--version"],
    ),
    binaryCheck(ctx, "jq", "jq", "benchmark baseline", false),
    binaryCheck(ctx, "bc", "bc", "benchmark baseline", false),
    binaryCheck(ctx, "tmux", "tmux", "terminal test of the progress board", false, ["-V"]),
  ]);
  const images = await offlineImagesCheck(ctx, !offline, daemon.status === "ok");
  return [
    nodeCheck(),
    dagger,
    daemon,
    clientCheck(clients),
    buildKitCheck(clients),
    buildxCheck(clients),
    compose,
    qemu,
    registry,
    images,
    ca,
    ...tools,
  ];
}

/** The row named `name`. */
const find = (results: CheckResult[], name: string) => results.find((r) => r.name === name);

/** Applies every fix it can, in order: packages, binfmt, dockerd, offline images. Returns the failures. */
export async function applyFixes(
  ctx: DoctorContext,
  before: CheckResult[],
  log: (l: string) => void,
  buildImages: DoctorOptions["buildImages"],
  rows?: RowRunner,
): Promise<string[]> {
  const failed: string[] = [];
  type Fix = (log: (l: string) => void, step: (name: string) => void) => Promise<void>;
  // Each fix is a row: of the entry's display when given, else announced and logged here.
  const run: RowRunner =
    rows ??
    ((name, fn, o) => {
      log(`\n--fix: ${name}`);
      return localRows(() => log)(name, fn, o);
    });
  const attempt = async (what: string, fn: Fix) => {
    const { cell } = await run(what, (row) => fn(row.log, row.step));
    if (cell.status !== "failed") return;
    failed.push(`${what}: ${cell.detail}`);
    // The rest of a longer message is in the row's log.
    if (!rows) log(`--fix: ${what} FAILED: ${cell.detail}`);
  };
  const pkgs = [...new Set(before.filter((r) => r.status !== "ok").flatMap((r) => r.apt ?? []))];
  if (pkgs.length > 0)
    await attempt(`install ${pkgs.join(" ")}`, (l, step) => aptInstall(pkgs, ctx, l, step));

  if ((await qemuCheck(ctx)).action === "binfmt")
    await attempt("enable qemu-aarch64", (l) => enableBinfmt(ctx, l));

  if ((await daemonCheck(ctx, await dockerClients(ctx))).action === "dockerd")
    await attempt("start dockerd", async (l) => {
      await startDockerd(ctx, l);
    });

  const now = await runChecks(ctx);
  if (
    find(now, "base images")?.action === "offline-images" &&
    find(now, "docker daemon")?.status === "ok"
  ) {
    const arm64 = find(now, "qemu arm64")?.status === "ok";
    const platforms = buildablePlatforms(ctx.config.platforms, arm64);
    // The images are rows of their own (the entry's `images` group); this row waits for them.
    await attempt("build the offline base images", async (l, step) => {
      l(`building offline base images for ${platforms.join(", ")}`);
      step(`images for ${platforms.join(", ")}`);
      await buildImages(platforms);
    });
  }
  return failed;
}

/** `doctor [--fix]`: prints the table (again after fixing) and returns the exit code. */
export async function doctor(opts: DoctorOptions): Promise<number> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const ctx: DoctorContext = { ...defaultContext(opts.config), ...opts.context };
  let results = await runChecks(ctx);
  log(renderTable(results));
  const needsWork = results.some((r) => r.status !== "ok");
  let failed: string[] = [];
  if (opts.fix && needsWork) {
    if (ctx.host.debian && ctx.host.root) {
      try {
        failed = await applyFixes(ctx, results, log, opts.buildImages, opts.fixes?.row);
      } finally {
        opts.fixes?.done();
      }
      results = await runChecks(ctx);
      log(`\nafter --fix:\n${renderTable(results)}`);
    } else {
      log(
        "\n--fix installs and starts things only on Debian or Ubuntu as root; here, apply the fixes above.",
      );
    }
  }
  const missing = results.filter((r) => r.status === "missing").map((r) => r.name);
  for (const f of failed) log(`doctor: fix failed: ${f}`);
  if (missing.length > 0) {
    const hint = opts.fix
      ? "apply the fixes above"
      : "run `npm run setup` (doctor --fix) or apply the fixes above";
    log("");
    log(`doctor: missing ${missing.join(", ")}: ${hint}`);
    return 1;
  }
  const warned = results.some((r) => r.status === "warn");
  log("");
  log(`doctor: ready${warned ? " (warnings are optional)" : ""}`);
  return 0;
}
