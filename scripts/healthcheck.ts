/**
 * The image's HEALTHCHECK: filesystem, tools, git and the entrypoint's services, each under its own timeout.
 * Exit 0 healthy, 1 unhealthy. One line per check, or a JSON report with --json.
 * Node builtins only (no zx): it runs every few seconds and must start about as fast as `node -e 0`. The image runs
 * it bundled into one CommonJS file (`npm run build` → dist/scripts/healthcheck.cjs), hence no top-level await.
 */
import { writeSync } from "node:fs";
import { formatReport, type HealthReport, runChecks } from "./lib/checks.js";
import { parseEnv } from "./lib/env.js";

/** Runs the checks and exits with the verdict. */
async function main(): Promise<void> {
  const json = process.argv.includes("--json");
  const parsed = parseEnv(process.env);
  let report: HealthReport;
  if (parsed.ok) {
    report = await runChecks(parsed.env);
  } else {
    // A broken environment is a failed check, reported like the others.
    report = {
      healthy: false,
      checks: [{ name: "env", status: "fail", message: parsed.errors.join("; "), ms: 0 }],
    };
  }
  const out = json ? `${JSON.stringify(report)}\n` : formatReport(report);
  // Exit explicitly: a timed-out check may still hold a handle open (a hung mount, a silent port).
  const code = report.healthy ? 0 : 1;
  const rest = writeOut(out);
  if (rest) process.stdout.write(rest, () => process.exit(code));
  else process.exit(code);
}

/**
 * Writes to fd 1 directly: setting up process.stdout (a stream over a pipe, as under Docker) costs more than all
 * the checks but one. Returns what is left when fd 1 would block (a non-blocking pipe), for process.stdout.
 */
function writeOut(text: string): string {
  let buf = Buffer.from(text);
  while (buf.length > 0) {
    try {
      buf = buf.subarray(writeSync(1, buf));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EAGAIN") return buf.toString();
      // EPIPE and the like: nobody reads the report; the exit code still tells.
      return "";
    }
  }
  return "";
}

void main();
