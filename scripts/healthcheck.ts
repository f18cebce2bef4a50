/**
 * The image's HEALTHCHECK: filesystem, tools, git and the entrypoint's services, each under its own timeout.
 * Exit 0 healthy, 1 unhealthy. One line per check, or a JSON report with --json.
 * Node builtins only (no zx): it runs every few seconds and must start about as fast as `node -e 0`.
 */
import { formatReport, type HealthReport, runChecks } from "./lib/checks.js";
import { parseEnv } from "./lib/env.js";

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
process.stdout.write(out, () => process.exit(report.healthy ? 0 : 1));
