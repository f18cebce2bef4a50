/** The doctor's table: one row per check, its status, what is there, and the fix under it. */
import type { CheckResult, Status } from "./check.js";

const LABEL: Record<Status, string> = { ok: "ok", warn: "warn", missing: "MISSING" };

/** Renders the results as a plain-text table; fixes go on their own line under a row. */
export function renderTable(results: CheckResult[]): string {
  const nameWidth = Math.max(5, ...results.map((r) => r.name.length));
  const statusWidth = Math.max(...Object.values(LABEL).map((l) => l.length));
  const indent = " ".repeat(nameWidth + statusWidth + 4);
  const lines = [`${"check".padEnd(nameWidth)}  ${"status".padEnd(statusWidth)}  found`];
  for (const r of results) {
    lines.push(`${r.name.padEnd(nameWidth)}  ${LABEL[r.status].padEnd(statusWidth)}  ${r.found}`);
    if (r.fix) lines.push(`${indent}fix: ${r.fix}`);
  }
  return lines.join("\n");
}
