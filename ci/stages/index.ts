/** The stages, in the order the summary lists them. Adding a stage: its folder, and one line here. */
import type { Stage } from "../stage.js";
import { build } from "./build/index.js";
import { deploy } from "./deploy/index.js";
import { lint } from "./lint/index.js";
import { scan } from "./scan/index.js";
import { test } from "./test/index.js";

export const STAGES = [lint, test, build, scan, deploy] as const;

export type AnyStage = (typeof STAGES)[number];
export type StageName = AnyStage["name"];
export const STAGE_NAMES: readonly StageName[] = STAGES.map((s) => s.name);

// Every `needs` entry must name a stage: this line does not compile otherwise.
export const NEEDS_ARE_STAGES: readonly StageName[] = [] as readonly AnyStage["needs"][number][];

/** The stage called `name`, as the entry sees every stage. */
export function stageNamed(name: StageName): Stage {
  const s = STAGES.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
}
