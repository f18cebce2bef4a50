/**
 * Calls the module as the engine does: the SDK's `entrypoint` (what the runtime's `__dagger.entrypoint.ts` runs)
 * against the recording server, as the registration call or as one function's invocation.
 */
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { entrypoint } from "@dagger.io/dagger";
import { clientGen, moduleFiles } from "./dagger-module.js";
import { type Answer, type Recorder, startRecorder } from "./dagger-recorder.js";

/** What the engine tells the module about the call. */
export type Call =
  /** Registration: `currentFunctionCall.parentName` is empty; the module answers with its type definitions. */
  | { kind: "register" }
  /** One function of CodexFather, on an object whose state is `parent`, with `args` (each value as JSON). */
  | { kind: "invoke"; fn: string; parent: Record<string, unknown>; args?: Record<string, unknown> };

/** The engine's side of `currentModule` and `currentFunctionCall`, for `call`; `more` answers the rest. */
function callAnswers(call: Call, more: Answer): Answer {
  const args = Object.entries(call.kind === "invoke" ? (call.args ?? {}) : {});
  return (field, chain, a) => {
    const at = chain.at(-1) ?? "";
    if (at === "currentModule" && field === "name") return "codex-father";
    if (at === "currentFunctionCall") {
      if (field === "parentName") return call.kind === "register" ? "" : "CodexFather";
      if (call.kind === "invoke" && field === "name") return call.fn;
      if (call.kind === "invoke" && field === "parent") return JSON.stringify(call.parent);
      if (field === "inputArgs") return args.map(([name]) => ({ id: `arg-${name}` }));
    }
    const arg = /^node\(id: "arg-(.+)"\)$/.exec(at)?.[1];
    const value = args.find(([name]) => name === arg);
    if (value && field === "name") return value[0];
    if (value && field === "value") return JSON.stringify(value[1]);
    return more(field, chain, a);
  };
}

/** The SDK exits the process after returning a function's error; here that ends the call instead. */
class Exited extends Error {
  constructor(readonly code: number | undefined) {
    super(`the module's entrypoint exited ${code}`);
  }
}

/**
 * Runs the entrypoint once. `exited` is set when the SDK would have ended the process (a function failed: it
 * has sent `returnError` first).
 */
export async function callModule(
  call: Call,
  more: Answer = () => undefined,
): Promise<{ rec: Recorder; queries: string[]; chains: string[][]; exited?: number }> {
  const generated = clientGen();
  const rec = await startRecorder(callAnswers(call, more));
  const saved = { ...process.env };
  const exit = process.exit;
  Object.assign(process.env, rec.env);
  process.exit = ((code?: number) => {
    throw new Exited(code);
  }) as typeof process.exit;
  try {
    let exited: number | undefined;
    await entrypoint([...moduleFiles(), generated]).catch((e: unknown) => {
      if (!(e instanceof Exited)) throw e;
      exited = e.code ?? 0;
    });
    return {
      rec,
      queries: rec.normalised(),
      chains: rec.chains(),
      ...(exited === undefined ? {} : { exited }),
    };
  } finally {
    process.exit = exit;
    process.env = saved;
    await rec.close();
    rmSync(dirname(generated), { recursive: true, force: true });
  }
}
