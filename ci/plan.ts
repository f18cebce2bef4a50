/** Which stages run, in what order, after what; and the `--plan` text. */
import { STAGES } from "./cli.js";
import type { PlannedRun, StageName } from "./stage.js";

/** What each stage needs to have passed (or been skipped on purpose) first. */
export const NEEDS: Record<StageName, StageName[]> = {
  lint: [],
  test: [],
  build: [],
  scan: ["build"],
  deploy: ["build", "scan", "test"],
};

/** One selected stage and why it runs. */
export interface Selected {
  stage: StageName;
  /** Dependencies among the selected stages. */
  needs: StageName[];
  /** Set when not named but pulled in by a stage that needs it. */
  pulledInBy?: StageName;
}

/** The stages to run, dependencies first: named (default all) plus what they need, minus --skip. */
export function selectStages(
  named: StageName[],
  skip: StageName[],
  needs: Record<StageName, StageName[]> = NEEDS,
): Selected[] {
  const wanted = new Map<StageName, StageName | undefined>();
  const add = (s: StageName, by?: StageName) => {
    if (skip.includes(s) || wanted.has(s)) return;
    wanted.set(s, by);
    for (const d of needs[s]) add(d, by ?? s);
  };
  for (const s of named.length ? named : STAGES) add(s);
  // STAGES is already in dependency order, so filtering it keeps dependencies first.
  return STAGES.filter((s) => wanted.has(s)).map((stage) => {
    const pulledInBy = named.length && !named.includes(stage) ? wanted.get(stage) : undefined;
    return {
      stage,
      needs: needs[stage].filter((d) => wanted.has(d)),
      ...(pulledInBy ? { pulledInBy } : {}),
    };
  });
}

/** Groups stages into waves that can run at the same time. */
export function waves(selected: Selected[]): StageName[][] {
  const level = new Map<StageName, number>();
  for (const s of selected)
    level.set(s.stage, Math.max(0, ...s.needs.map((d) => (level.get(d) ?? 0) + 1)));
  const out: StageName[][] = [];
  for (const [stage, l] of level) out[l] = [...(out[l] ?? []), stage];
  return out;
}

/** The `--plan` text: waves, dependencies and each stage's containers. */
export function planText(
  selected: Selected[],
  runs: Map<StageName, PlannedRun[] | string>,
  skipped: StageName[],
): string {
  const lines: string[] = [];
  waves(selected).forEach((wave, i) => {
    lines.push(`wave ${i + 1} (in parallel): ${wave.join(", ")}`);
  });
  for (const s of selected) {
    const why = [
      s.needs.length ? `needs ${s.needs.join(", ")}` : "no dependencies",
      s.pulledInBy ? `pulled in by ${s.pulledInBy}` : "",
    ].filter(Boolean);
    lines.push("", `${s.stage} (${why.join("; ")})`);
    const r = runs.get(s.stage);
    if (typeof r === "string") lines.push(`  ${r}`);
    for (const run of Array.isArray(r) ? r : []) {
      lines.push(`  ${run.name}: ${run.image}${run.platform ? ` (${run.platform})` : ""}`);
      for (const step of run.steps) lines.push(`    $ ${step}`);
    }
  }
  if (skipped.length) lines.push("", `skipped: ${skipped.join(", ")}`);
  return `${lines.join("\n")}\n`;
}
