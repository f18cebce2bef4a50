/** Progress lines: every line carries its stage and cell prefix, readable in a terminal and in CI logs. */
import type { LineSink } from "../engine.js";

/** Where progress goes; tests swap it for an array. */
export let write: (text: string) => void = (text) => process.stdout.write(text);

/** Redirects progress output (tests, --json to stdout). */
export function setWriter(w: (text: string) => void): void {
  write = w;
}

/** A sink that prefixes each line with "[stage]" or "[stage cell]". */
export function prefixed(stage: string, cell?: string): LineSink {
  const prefix = cell ? `[${stage} ${cell}]` : `[${stage}]`;
  return (line) => write(`${prefix} ${line}\n`);
}

/** Splits streamed chunks into whole lines for a sink; call the returned flush at the end. */
export function lineSplitter(sink: LineSink): { push(chunk: string): void; flush(): void } {
  let rest = "";
  return {
    push(chunk) {
      const parts = (rest + chunk).split(/\r?\n/);
      rest = parts.pop() ?? "";
      for (const p of parts) sink(p);
    },
    flush() {
      if (rest) sink(rest);
      rest = "";
    },
  };
}

/** "1.2s" or "2m03s". */
export function duration(ms: number): string {
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}
