/**
 * The design's bash collector (`lib/metrics_collector.sh collect`, section 4.2.1), taken from the design at run time
 * and adapted only with `|| true` on its three `((…++))` increments (word for word, `set -e` stops it at the first one).
 */
import { spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { repoRoot } from "../../test/helpers/proc.js";

/** The design file: --design <path>, else the one .txt under ../shared/design next to the repo. */
export function findDesign(explicit?: string): string {
  if (explicit) return resolve(explicit);
  const dir = resolve(repoRoot, "..", "shared", "design");
  const txt = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".txt")) : [];
  if (txt.length === 0) throw new Error(`no design file in ${dir}: pass --design <path>`);
  return join(dir, txt.sort()[0] as string);
}

/** Extracts the collector script from the design and applies the three `|| true`. */
export function extractCollector(designFile: string): string {
  const text = readFileSync(designFile, "utf8");
  const start = text.indexOf("# lib/metrics_collector.sh");
  if (start < 0) throw new Error(`${designFile}: no "lib/metrics_collector.sh" block`);
  const open = text.lastIndexOf("```bash\n", start);
  const close = text.indexOf("\n```", start);
  const script = text.slice(open + "```bash\n".length, close + 1);
  const increments = script.match(/\(\([a-z_]+\+\+\)\)/g) ?? [];
  if (increments.length !== 3)
    throw new Error(`expected 3 ((x++)) increments in the collector, found ${increments.length}`);
  return script.replace(/(\(\([a-z_]+\+\+\)\))/g, "$1 || true");
}

/**
 * Runs `bash metrics_collector.sh collect` against a store and returns its wall time and output.
 * The script reads `/app/logs/mcp-server.log` and `.codex-father/{queue,git-state}` relative to its cwd, so it runs
 * in a private mount namespace chrooted onto a tmpfs that binds the host's /usr, /etc, /proc, /dev and places the
 * store at /app/logs and /store: nothing is created on the host outside the temp dir.
 */
export function runCollector(
  script: string,
  storeRoot: string,
  env: { CODEX_HOME: string; CODEX_SESSIONS_ROOT: string; CODEX_LOG_DIR: string },
): { ms: number; out: string; code: number | null } {
  const work = join(storeRoot, "baseline");
  mkdirSync(join(work, "cwd"), { recursive: true });
  writeFileSync(join(work, "metrics_collector.sh"), script);
  // `.codex-father` as the script expects it, pointing at the generated CODEX_HOME.
  if (!existsSync(join(work, "cwd", ".codex-father")))
    symlinkSync(env.CODEX_HOME, join(work, "cwd", ".codex-father"));
  const inner = `set -e
R="${work}/root"; mkdir -p "$R"
mount -t tmpfs tmpfs "$R"
for d in usr etc proc dev tmp; do mkdir -p "$R/$d"; mount --rbind "/$d" "$R/$d"; done
for l in bin lib lib64 sbin; do [ -e "/$l" ] && ln -s "$(readlink "/$l" || echo "usr/$l")" "$R/$l"; done
mkdir -p "$R/app/logs" "$R${storeRoot}"
mount --bind "${env.CODEX_LOG_DIR}" "$R/app/logs"
mount --bind "${storeRoot}" "$R${storeRoot}"
exec chroot "$R" /bin/bash -c 'cd "${work}/cwd" && start=$(date +%s%N) && CODEX_SESSIONS_ROOT="${env.CODEX_SESSIONS_ROOT}" bash ../metrics_collector.sh collect > ../out.txt; rc=$?; echo $(( ($(date +%s%N) - start) / 1000000 )) > ../ms.txt; exit $rc'`;
  const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", inner], {
    encoding: "utf8",
    stdio: ["ignore", "inherit", "inherit"],
  });
  const out = existsSync(join(work, "out.txt")) ? readFileSync(join(work, "out.txt"), "utf8") : "";
  const took = existsSync(join(work, "ms.txt"))
    ? Number(readFileSync(join(work, "ms.txt"), "utf8"))
    : Number.NaN;
  return { ms: took, out, code: r.status };
}
