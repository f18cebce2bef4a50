/**
 * The Dagger module (.dagger/) through the pinned SDK's own module machinery, without an engine: the
 * introspector that reads its types, and the entrypoint the TypeScript runtime starts for every call.
 *
 * The introspector resolves core types (Directory, Container, Secret…) by name in a file called
 * `client.gen.ts`: it keeps only source files (no `.d.ts`) and matches that name. In a module the runtime
 * generates `sdk/client.gen.ts` from the engine's schema; the npm package ships the same bindings compiled, as
 * `dist/src/api/client.gen.js` and its declarations `client.gen.d.ts`. A declaration file is valid TypeScript
 * source (`export declare class Directory …`), so `clientGen()` writes that file to a temp directory under the
 * name the introspector looks for, its one relative import pointed back at the SDK. Made from the installed SDK
 * each run, never committed: a new SDK version brings its own.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

/** The module's source, as the runtime lists it (every .ts under src/). */
export const MODULE_SRC = resolve(".dagger/src");

/** The SDK's dist/src directory. */
export const sdkDist = (): string =>
  dirname(createRequire(import.meta.url).resolve("@dagger.io/dagger"));

/** Every .ts file under `dir`, absolute, as `__dagger.entrypoint.ts` lists them. */
export function moduleFiles(dir = MODULE_SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return moduleFiles(path);
    return [".ts", ".mts"].includes(extname(e.name)) ? [path] : [];
  });
}

/** Writes `client.gen.ts` from the SDK's declarations into a temp directory; returns its path. */
export function clientGen(): string {
  const api = join(sdkDist(), "api");
  const declarations = readFileSync(join(api, "client.gen.d.ts"), "utf8");
  const relative = /from "(\.\.?\/[^"]+)"/g;
  const imports = [...declarations.matchAll(relative)].map((m) => m[1]);
  if (imports.length === 0)
    throw new Error("client.gen.d.ts: no relative import to point at the SDK");
  const source = declarations.replace(relative, (_, spec: string) => `from "${join(api, spec)}"`);
  const file = join(mkdtempSync(join(tmpdir(), "dagger-client-gen-")), "client.gen.ts");
  writeFileSync(file, source);
  return file;
}

/** What the introspector says about one argument. */
export interface ScannedArgument {
  name: string;
  description: string;
  type?: { kind: string; name?: string; typeDef?: { kind: string; name?: string } };
  isOptional: boolean;
  isNullable: boolean;
  defaultPath?: string;
  ignore?: string[];
  defaultValue?: unknown;
}

/** …about one function. */
export interface ScannedFunction {
  name: string;
  description: string;
  arguments: Record<string, ScannedArgument>;
  returnType?: { kind: string; name?: string; typeDef?: { kind: string; name?: string } };
  isCheck: boolean;
  isUp: boolean;
  cache?: string;
}

/** …about one object. */
export interface ScannedObject {
  name: string;
  methods: Record<string, ScannedFunction>;
  _constructor?: { arguments: Record<string, ScannedArgument> };
}

/** The introspector's view of a module. */
export interface ScannedModule {
  name: string;
  description?: string;
  objects: Record<string, ScannedObject>;
}

/** The SDK's `scan()` (`dist/src/module/introspector`), which the package's exports do not name. */
async function sdkScan(): Promise<
  (files: string[], moduleName?: string, load?: boolean) => Promise<ScannedModule>
> {
  const url = pathToFileURL(join(sdkDist(), "module", "introspector", "index.js")).href;
  return ((await import(url)) as { scan: never }).scan;
}

/**
 * Runs the SDK's introspector over the module, as the engine does to learn its types. `load` false is the
 * engine's own introspection (`introspection_entrypoint`, which runs no module code).
 */
export async function introspect(
  files = moduleFiles(),
  load = true,
): Promise<{ module: ScannedModule; clientGen: string }> {
  const generated = clientGen();
  const scan = await sdkScan();
  return { module: await scan([...files, generated], "codex-father", load), clientGen: generated };
}
