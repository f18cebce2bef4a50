/** The end-of-run summary: a text table, the same as Markdown for GITHUB_STEP_SUMMARY, and the --json report. */
import { appendFile } from "node:fs/promises";
import { firstLine } from "./lib/cells.js";
import { writeJsonAtomic } from "./lib/files.js";
import { duration } from "./lib/log.js";
import type { StageResult, Status } from "./stage.js";

/** One stage's outcome with its timing, as main.ts records it. */
export interface StageReport extends Omit<StageResult, "output" | "intended"> {
  stage: string;
  durationMs: number;
}

/** The whole run, as written by --json. */
export interface RunReport {
  runId: string;
  engine: string;
  status: Status;
  durationMs: number;
  stages: StageReport[];
}

interface Row {
  name: string;
  status: Status;
  time: string;
  detail: string;
}

const MARK: Record<Status, string> = {
  passed: "✔ passed",
  failed: "✘ failed",
  skipped: "– skipped",
};

/** A row holds one line of a detail; the whole of it is in the stage's log and the JSON report. */
const oneLine = (detail = ""): string =>
  detail.trim().includes("\n") ? `${firstLine(detail.trim())} …` : detail.trim();

/** One row per stage, then one per cell under it. */
function rows(report: RunReport): Row[] {
  return report.stages.flatMap((s) => [
    { name: s.stage, status: s.status, time: duration(s.durationMs), detail: oneLine(s.detail) },
    ...(s.cells ?? []).map((c) => ({
      name: `  ${s.stage} ${c.name}`,
      status: c.status,
      time: duration(c.durationMs),
      detail: oneLine(c.detail),
    })),
  ]);
}

/** The summary as a fixed-width text table. */
export function textTable(report: RunReport): string {
  const rs = rows(report);
  const w = Math.max(5, ...rs.map((r) => r.name.length));
  const lines = [`${"stage".padEnd(w)}  ${"status".padEnd(9)}  ${"time".padStart(7)}  detail`];
  for (const r of rs)
    lines.push(
      `${r.name.padEnd(w)}  ${MARK[r.status].padEnd(9)}  ${r.time.padStart(7)}  ${r.detail}`.trimEnd(),
    );
  lines.push(
    `${report.status.toUpperCase()} in ${duration(report.durationMs)} (engine ${report.engine})`,
  );
  return `${lines.join("\n")}\n`;
}

/** Escapes a Markdown table cell. */
const cell = (s: string) => s.replaceAll("|", "\\|").replaceAll("\n", " ");

/** The summary as GitHub-flavoured Markdown, with each stage's extra Markdown after the table. */
export function markdownTable(report: RunReport): string {
  const out = [
    `### Pipeline ${report.status} in ${duration(report.durationMs)} (${report.engine})`,
    "",
    "| stage | status | time | detail |",
    "|---|---|---:|---|",
    ...rows(report).map(
      (r) => `| ${cell(r.name.trim())} | ${MARK[r.status]} | ${r.time} | ${cell(r.detail)} |`,
    ),
  ];
  for (const s of report.stages) if (s.markdown) out.push("", s.markdown);
  return `${out.join("\n")}\n`;
}

/** Appends the Markdown summary to the job summary file (`$GITHUB_STEP_SUMMARY`). */
export async function writeStepSummary(report: RunReport, file: string): Promise<void> {
  await appendFile(file, markdownTable(report));
}

/** Writes the JSON report whole (temp file + rename), so a crash leaves no half-written file. */
export const writeJson = (report: RunReport, file: string): Promise<void> =>
  writeJsonAtomic(file, report);
