/** Which stages run, in what order, after what; and the `--plan` text. */
import type { BuildSpec, RunSpec, Step } from "./engine.js";
import type { Job, StageOptions } from "./stage.js";
import { STAGES, type StageName, stageNamed } from "./stages/index.js";

/** One selected stage and why it runs. */
export interface Selected {
  stage: StageName;
  /** Dependencies among the selected stages. */
  needs: StageName[];
  /** Set when not named but pulled in by a stage that needs it. */
  pulledInBy?: StageName;
}

/** What `stage` needs with these options: nothing when it stands alone (`deploy --down`). */
function needsOf(stage: StageName, options?: StageOptions): StageName[] {
  const s = stageNamed(stage);
  if (options && s.standalone?.(options)) return [];
  return [...s.needs] as StageName[];
}

/** The stages to run, dependencies first: named (default all) plus what they need, minus --skip. */
export function selectStages(
  named: StageName[],
  skip: StageName[],
  options?: StageOptions,
): Selected[] {
  const wanted = new Map<StageName, StageName | undefined>();
  const add = (s: StageName, by?: StageName) => {
    if (skip.includes(s) || wanted.has(s)) return;
    wanted.set(s, by);
    for (const d of needsOf(s, options)) add(d, by ?? s);
  };
  for (const s of named.length ? named : STAGES.map((x) => x.name)) add(s);
  // STAGES is in dependency order, so filtering it keeps dependencies first.
  return STAGES.filter((s) => wanted.has(s.name)).map(({ name: stage }) => {
    const pulledInBy = named.length && !named.includes(stage) ? wanted.get(stage) : undefined;
    return {
      stage,
      needs: needsOf(stage, options).filter((d) => wanted.has(d)),
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

/** How a step reads in `--plan`: shell-quoted, so a line can be pasted, with its own env first. */
export function stepText(s: Step): string {
  const quote = (a: string) =>
    !/[\s$'"\\]/.test(a) ? a : a.includes("'") ? JSON.stringify(a) : `'${a}'`;
  const env = Object.entries(s.env ?? {}).map(([k, v]) => `${k}=${quote(v)} `);
  return `${env.join("")}${s.args.map(quote).join(" ")}`;
}

/** The `docker build` a build job stands for. */
export function buildCommand(spec: BuildSpec): string {
  const args = ["docker build", `--platform ${spec.platform}`];
  if (spec.dockerfile) args.push(`-f ${spec.dockerfile}`);
  if (spec.target) args.push(`--target ${spec.target}`);
  for (const [k, v] of Object.entries(spec.buildArgs ?? {})) args.push(`--build-arg ${k}=${v}`);
  for (const s of spec.secrets ?? []) args.push(`--secret id=${s.name}`);
  args.push(spec.context ?? ".");
  return args.join(" ");
}

/** What an image really is, when it is an offline stand-in: image → e.g. "Debian docker.io 20.10.24". */
export type StandIns = ReadonlyMap<string, string>;

/** An image as the plan shows it. */
const imageText = (image: string, standIns: StandIns) => {
  const what = standIns.get(image);
  return what ? `${image} (offline stand-in: ${what})` : image;
};

/** Every image a job would start from: for `--plan` to say which are stand-ins. */
export function jobImages(jobs: Job[]): string[] {
  return jobs.flatMap((j) =>
    j.kind === "run" ? [j.spec.image, ...(j.spec.services ?? []).map((s) => s.image)] : [],
  );
}

/** The lines of one run: its container and services, then each step. */
function runLines(spec: RunSpec, standIns: StandIns): string[] {
  const lines = [
    `  ${spec.name}: ${imageText(spec.image, standIns)}${spec.platform ? ` (${spec.platform})` : ""}`,
  ];
  for (const svc of spec.services ?? [])
    lines.push(
      `    service ${svc.hostname}: ${imageText(svc.image, standIns)}${svc.privileged ? ", privileged" : ""}`,
    );
  for (const step of [...(spec.setup ?? []), ...spec.steps]) lines.push(`    $ ${stepText(step)}`);
  return lines;
}

export function jobLines(job: Job, standIns: StandIns = new Map()): string[] {
  if (job.kind === "run") return runLines(job.spec, standIns);
  if (job.kind === "build") return [`  ${job.name}: ${buildCommand(job.spec)}`];
  return [`  ${job.name}:`, ...job.lines.map((l) => `    ${l}`)];
}

/** The `--plan` text: waves, dependencies and each stage's jobs (or why it cannot say). */
export function planText(
  selected: Selected[],
  jobs: Map<StageName, Job[] | string>,
  skipped: StageName[],
  standIns: StandIns = new Map(),
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
    const j = jobs.get(s.stage);
    if (typeof j === "string") lines.push(`  ${j}`);
    else for (const job of j ?? []) lines.push(...jobLines(job, standIns));
  }
  if (skipped.length) lines.push("", `skipped: ${skipped.join(", ")}`);
  return `${lines.join("\n")}\n`;
}
