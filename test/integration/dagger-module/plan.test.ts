/**
 * "Done when" of issue 12: `npx tsx ci/main.ts --plan` and the module's function list describe the same stages.
 * Both come from the stage registry: --plan prints what it selects; each module function, invoked through the
 * SDK's entrypoint, is seen running `ci/main.ts <stage>`.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { setWriter } from "../../../ci/lib/log.js";
import { main } from "../../../ci/main.js";
import { STAGE_NAMES } from "../../../ci/stages/index.js";
import { callModule } from "../../helpers/dagger-entrypoint.js";
import { introspect, type ScannedObject } from "../../helpers/dagger-module.js";
import type { Answer } from "../../helpers/dagger-recorder.js";

/** What a function that needs an argument gets; the rest run on their defaults, as `dagger check` calls them. */
const REQUIRED: Record<string, Record<string, unknown>> = {
  deploy: { dockerHost: "tcp://docker:2375" },
};

/** The engine's answers a function reads back: its platform, and build.json from the runner. */
const engine: Answer = (field) => {
  if (field === "defaultPlatform") return "linux/amd64";
  if (field === "contents")
    return JSON.stringify({
      platforms: [{ platform: "linux/amd64", tarball: "reports/images/codex-father-amd64.tar" }],
      published: [],
    });
  return undefined;
};

/** The stages `--plan` lists, in its order. */
async function planned(): Promise<string[]> {
  let out = "";
  setWriter((t) => {
    out += t;
  });
  try {
    assert.is(await main(["--plan"]), 0);
  } finally {
    setWriter((t) => process.stdout.write(t));
  }
  return out
    .split("\n")
    .flatMap((l) => /^([a-z]+) \((?:no dependencies|needs )/.exec(l)?.[1] ?? []);
}

/** The stage a function runs: the `ci/main.ts <stage>` of its runner. */
async function stageRunBy(fn: string): Promise<string | undefined> {
  const { chains, exited } = await callModule(
    {
      kind: "invoke",
      fn,
      parent: { source: "dir-source", git: "gitref-head" },
      args: REQUIRED[fn] ?? {},
    },
    engine,
  );
  assert.is(exited, undefined, `${fn} failed`);
  const runs = chains.flat().flatMap((op) => {
    const argv = /^withExec\(args: (\[[^\]]*\])/.exec(op)?.[1];
    return argv ? [JSON.parse(argv) as string[]] : [];
  });
  const stages = new Set(
    runs.filter((a) => a.slice(0, 3).join(" ") === "npx tsx ci/main.ts").map((a) => a[3]),
  );
  assert.ok(stages.size <= 1, `${fn} runs one stage, not ${[...stages].join(", ")}`);
  return [...stages][0];
}

test("--plan lists the registry's stages; every one is a module function that runs it, and no function runs anything else", async () => {
  assert.equal(await planned(), [...STAGE_NAMES]);
  const { module } = await introspect();
  const fns = Object.keys((module.objects.CodexFather as ScannedObject).methods);
  const runs = new Map<string, string | undefined>();
  for (const fn of fns) runs.set(fn, await stageRunBy(fn));
  for (const stage of STAGE_NAMES)
    assert.is(runs.get(stage), stage, `function ${stage} runs ci/main.ts ${stage}`);
  for (const [fn, stage] of runs)
    assert.ok(
      stage && (STAGE_NAMES as readonly string[]).includes(stage),
      `${fn} runs a stage of the registry (${stage})`,
    );
});

test.run();
