/** Reads a devcontainer.json as JSONC (the spec's format) and lists what is wrong: parse errors, missing files. */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { type ParseError, parse, printParseErrorCode } from "jsonc-parser";

export interface DevcontainerJson {
  build?: { dockerfile?: string; context?: string; args?: Record<string, string> };
  features?: Record<string, unknown>;
  forwardPorts?: number[];
  portsAttributes?: Record<string, { label?: string }>;
  postCreateCommand?: string | string[];
}

/** Parses `file`; returns the config and each problem as `file:line:col: what`. */
export function lintDevcontainer(file: string): { config: DevcontainerJson; problems: string[] } {
  const text = readFileSync(file, "utf8");
  const errors: ParseError[] = [];
  const config = (parse(text, errors, { allowTrailingComma: true }) ?? {}) as DevcontainerJson;
  const problems = errors.map((e) => {
    const before = text.slice(0, e.offset).split("\n");
    return `${file}:${before.length}:${(before.at(-1)?.length ?? 0) + 1}: ${printParseErrorCode(e.error)}`;
  });
  const dir = dirname(file);
  const referenced = [config.build?.dockerfile, config.build?.context].filter(
    (p): p is string => !!p,
  );
  for (const p of referenced)
    if (!existsSync(join(dir, p))) problems.push(`${file}: references ${p}, which does not exist`);
  return { config, problems };
}
