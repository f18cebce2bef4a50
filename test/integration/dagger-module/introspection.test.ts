/**
 * The module's API as Dagger sees it: the pinned SDK's introspector over .dagger/src (functions, arguments,
 * types, checks, the service), and the same with nothing but src/ and the SDK present, as the engine reads it.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SOURCE_EXCLUDE } from "../../../ci/lib/node-env.js";
import {
  introspect,
  MODULE_SRC,
  moduleFiles,
  type ScannedArgument,
  type ScannedFunction,
  type ScannedObject,
  sdkDist,
} from "../../helpers/dagger-module.js";

/** A type as `kind` or `kind<name>` / `[kind]` for lists, to compare briefly. */
const typeOf = (t: ScannedArgument["type"]): string =>
  t?.kind === "LIST_KIND"
    ? `[${t.typeDef?.name ?? t.typeDef?.kind}]`
    : t?.kind === "OBJECT_KIND"
      ? (t.name ?? "?")
      : (t?.kind ?? "?");

/** Each argument as "name: type" with "?" when it may be left out. */
const signature = (args: Record<string, ScannedArgument>): string[] =>
  Object.values(args).map(
    (a) =>
      `${a.name}${a.isOptional || a.isNullable || a.defaultValue !== undefined ? "?" : ""}: ${typeOf(a.type)}`,
  );

let main: ScannedObject;
let fns: Record<string, ScannedFunction>;

test.before(async () => {
  const { module, clientGen } = await introspect();
  rmSync(dirname(clientGen), { recursive: true, force: true });
  assert.equal(Object.keys(module.objects), ["CodexFather"], "one object, named after the module");
  main = module.objects.CodexFather as ScannedObject;
  fns = main.methods;
  assert.match(module.description ?? "", "Codex Father's pipeline as Dagger functions");
});

test("functions: one per stage, publish, image and the app service", () => {
  assert.equal(Object.keys(fns).sort(), [
    "build",
    "deploy",
    "image",
    "lint",
    "publish",
    "scan",
    "serve",
    "test",
  ]);
  for (const f of Object.values(fns)) assert.ok(f.description.length > 20, `${f.name}: documented`);
});

test("checks: lint, test and scan are what `dagger check` runs; serve is what `dagger up` starts", () => {
  const checks = Object.values(fns).filter((f) => f.isCheck);
  assert.equal(checks.map((f) => f.name).sort(), ["lint", "scan", "test"]);
  for (const f of checks)
    assert.ok(
      Object.values(f.arguments).every((a) => a.isOptional || a.defaultValue !== undefined),
      `${f.name}: a check runs without arguments`,
    );
  assert.equal(
    Object.values(fns)
      .filter((f) => f.isUp)
      .map((f) => f.name),
    ["serve"],
  );
});

test("arguments and return types", () => {
  const expected: Record<string, { args: string[]; returns: string }> = {
    lint: { args: [], returns: "Container" },
    test: { args: ["node?: [STRING_KIND]", "kinds?: [STRING_KIND]"], returns: "Container" },
    build: { args: ["platforms?: [STRING_KIND]"], returns: "Directory" },
    image: { args: ["platform?: STRING_KIND"], returns: "Container" },
    scan: { args: ["platforms?: [STRING_KIND]"], returns: "Container" },
    publish: {
      args: [
        "registry?: STRING_KIND",
        "username?: STRING_KIND",
        "password?: Secret",
        "platforms?: [STRING_KIND]",
      ],
      returns: "[STRING_KIND]",
    },
    deploy: {
      args: [
        "docker?: Socket",
        "dockerHost?: STRING_KIND",
        "env?: STRING_KIND",
        "down?: BOOLEAN_KIND",
        "volumes?: BOOLEAN_KIND",
        "platforms?: [STRING_KIND]",
        "githubToken?: Secret",
      ],
      returns: "STRING_KIND",
    },
    serve: { args: [], returns: "Service" },
  };
  for (const [name, want] of Object.entries(expected)) {
    const f = fns[name] as ScannedFunction;
    assert.equal(signature(f.arguments), want.args, `${name} arguments`);
    assert.is(typeOf(f.returnType), want.returns, `${name} returns`);
  }
  assert.is(fns.deploy?.arguments.env?.defaultValue, "development");
  assert.is(fns.publish?.cache, "never", "a publish is never answered from the cache");
  assert.is(fns.deploy?.cache, "never", "nor a deploy");
});

test("constructor: the repository with the pipeline's excludes, its git ref, an optional CA bundle", () => {
  const args = main._constructor?.arguments ?? {};
  assert.equal(signature(args), ["source: Directory", "git: GitRef", "ca?: File"]);
  assert.is(args.source?.defaultPath, "/");
  assert.equal(args.source?.ignore, SOURCE_EXCLUDE, "the same list ci/ leaves out of every copy");
  assert.is(args.git?.defaultPath, "/");
  assert.is(args.git?.ignore, undefined);
});

test("as the engine reads it: only src/ and the SDK present, no module code run, still the same API", async () => {
  // The engine's introspection container mounts the module's src/ and a generated @dagger.io/dagger, nothing else.
  const root = mkdtempSync(join(tmpdir(), "dagger-module-types-"));
  try {
    cpSync(MODULE_SRC, join(root, "src"), { recursive: true });
    mkdirSync(join(root, "node_modules", "@dagger.io"), { recursive: true });
    symlinkSync(join(sdkDist(), "..", ".."), join(root, "node_modules", "@dagger.io", "dagger"));
    const { module, clientGen } = await introspect(moduleFiles(join(root, "src")), false);
    rmSync(dirname(clientGen), { recursive: true, force: true });
    const alone = module.objects.CodexFather as ScannedObject;
    assert.equal(alone._constructor?.arguments.source?.ignore, SOURCE_EXCLUDE);
    assert.equal(
      Object.fromEntries(Object.values(alone.methods).map((f) => [f.name, signature(f.arguments)])),
      Object.fromEntries(Object.values(fns).map((f) => [f.name, signature(f.arguments)])),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test.run();
