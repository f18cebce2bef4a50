/**
 * The module driven through the pinned SDK's entrypoint against the recording server: the registration call
 * (the type definitions it sends) and invocations of its functions (the containers it asks for).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { SOURCE_EXCLUDE } from "../../../ci/lib/node-env.js";
import { callModule } from "../../helpers/dagger-entrypoint.js";
import type { Answer } from "../../helpers/dagger-recorder.js";

/** The object's state as the engine hands it back: IDs of the constructor's arguments. */
const PARENT = { source: "dir-source", git: "gitref-head" };

/** A list of strings as the SDK prints it in a query. */
const gql = (values: string[]) => `[${values.map((v) => JSON.stringify(v)).join(", ")}]`;

/** The chain that defines function `name` (its typedef), from the registration's queries. */
const definition = (chains: string[][], name: string) =>
  chains.find((c) => c[0]?.startsWith(`function(name: "${name}"`)) ?? [];

/** The chain that returned the function's value: the longest one starting at `container`. */
const returned = (chains: string[][]) =>
  chains
    .filter((c) => c[0] === "container")
    .reduce((a, b) => (b.length > a.length ? b : a), [] as string[]);

/** The argv of each exec in a chain. */
const execs = (chain: string[]) =>
  chain.filter((op) => op.startsWith("withExec(")).map((op) => /args: (\[[^\]]*\])/.exec(op)?.[1]);

test("registration: the engine asks who calls; the module answers with its object, functions, checks and service", async () => {
  const { chains, queries, rec } = await callModule({ kind: "register" });
  assert.is(rec.refused, 0);
  assert.equal(queries.slice(0, 2), [
    "{ currentModule { name } }",
    "{ currentFunctionCall { parentName } }",
  ]);
  for (const name of ["lint", "test", "scan"])
    assert.ok(definition(chains, name).includes("withCheck"), `${name} is a check`);
  for (const name of ["build", "image", "publish", "deploy", "serve"])
    assert.not.ok(definition(chains, name).includes("withCheck"), `${name} is not a check`);
  assert.ok(definition(chains, "serve").includes("withUp"), "serve is what dagger up starts");
  for (const name of ["publish", "deploy"])
    assert.ok(
      definition(chains, name).includes("withCachePolicy(policy: Never)"),
      `${name} is never cached`,
    );
  const ctor = definition(chains, "").join(" ");
  assert.match(ctor, `withArg(name: "source", typeDef: "<id:withObject>"`);
  assert.match(ctor, `defaultPath: "/", ignore: ${gql(SOURCE_EXCLUDE)})`);
  assert.match(ctor, /withArg\(name: "git", typeDef: "<id:withObject>", .*defaultPath: "\/"\)/);
  const object = chains.filter((c) => c[1]?.startsWith('withObject(name: "CodexFather"')).at(-1);
  assert.is(object?.filter((op) => op.startsWith("withFunction(")).length, 8);
  assert.ok(object?.some((op) => op.startsWith("withConstructor(")));
  assert.ok(
    chains.some((c) => c[0] === "module" && c.some((op) => op.startsWith("withObject(object:"))),
    "the module's definition is sent",
  );
  assert.match(queries.at(-1) ?? "", /^\{ currentFunctionCall \{ returnValue\(value: "\\"<id:/);
});

test("lint: the runner from the image's Node, npm ci before the source, ci/main.ts lint with the Dagger API", async () => {
  const { chains, queries, rec } = await callModule({ kind: "invoke", fn: "lint", parent: PARENT });
  assert.is(rec.refused, 0);
  assert.equal(queries.slice(0, 5), [
    "{ currentModule { name } }",
    "{ currentFunctionCall { parentName } }",
    "{ currentFunctionCall { name } }",
    "{ currentFunctionCall { parent } }",
    "{ currentFunctionCall { inputArgs { id } } }",
  ]);
  assert.ok(queries.includes('{ node(id: "dir-source") { ... on Directory { id } } }'));
  assert.equal(returned(chains), [
    "container",
    'from(address: "node:26-bookworm-slim")',
    'withMountedCache(path: "/root/.npm", cache: "<id:cacheVolume>")',
    'withEnvVariable(name: "CI", value: "true")',
    'withEnvVariable(name: "npm_config_update_notifier", value: "false")',
    'withEnvVariable(name: "npm_config_fund", value: "false")',
    'withEnvVariable(name: "npm_config_audit", value: "false")',
    'withWorkdir(path: "/src")',
    `withDirectory(path: "/src", source: "dir-source", include: ${gql(["package.json", "package-lock.json"])})`,
    `withExec(args: ${gql(["npm", "ci", "--prefer-offline"])})`,
    'withDirectory(path: "/src", source: "dir-source")',
    'withEnvVariable(name: "CODEX_CI_DAGGER_MODULE", value: "1")',
    `withExec(args: ${gql(["npx", "tsx", "ci/main.ts", "lint", "--engine", "dagger"])}, experimentalPrivilegedNesting: true)`,
    "id",
  ]);
  assert.not.ok(
    queries.some((q) => q.includes("gitref-head")),
    "lint needs no .git",
  );
  assert.is(
    queries.at(-1),
    '{ currentFunctionCall { returnValue(value: "\\"<id:withExec>\\"") } }',
  );
});

test("test: node versions and kinds become --node and --only", async () => {
  const { chains } = await callModule({
    kind: "invoke",
    fn: "test",
    parent: PARENT,
    args: { node: ["22", "24"], kinds: ["unit", "e2e"] },
  });
  assert.equal(
    execs(returned(chains)).at(-1),
    gql([
      "npx",
      "tsx",
      "ci/main.ts",
      "test",
      "--node",
      "22,24",
      "--only",
      "unit,e2e",
      "--engine",
      "dagger",
    ]),
  );
});

test("build: git installed before the source, the commit's .git from the git ref, reports/ returned", async () => {
  const { chains } = await callModule({
    kind: "invoke",
    fn: "build",
    parent: PARENT,
    args: { platforms: ["linux/arm64"] },
  });
  const chain = chains.filter((c) => c.includes('directory(path: "/src/reports")')).at(-1) ?? [];
  const runs = execs(chain);
  assert.equal(runs.slice(0, 3), [
    gql(["apt-get", "update", "-qq"]),
    gql(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "git"]),
    gql(["npm", "ci", "--prefer-offline"]),
  ]);
  assert.is(
    runs.at(-1),
    gql(["npx", "tsx", "ci/main.ts", "build", "--platform", "linux/arm64", "--engine", "dagger"]),
  );
  assert.ok(chain.includes('withDirectory(path: "/src/.git", source: "<id:directory>")'));
  assert.ok(
    chains.some(
      (c) =>
        c.join(" ") ===
        'node(id: "gitref-head") ... on GitRef tree(depth: 1) directory(path: ".git") id',
    ),
    "the .git of the checked-out commit, one commit deep",
  );
  assert.is(chain.at(-2), 'directory(path: "/src/reports")');
});

test("publish: --registry, the user in the environment, the password only as a secret variable; the pushed refs returned", async () => {
  const pushed = ["ghcr.io/acme/codex-father:0.1.0@sha256:abc"];
  const manifest: Answer = (field) =>
    field === "contents" ? JSON.stringify({ published: pushed }) : undefined;
  const { chains, queries } = await callModule(
    {
      kind: "invoke",
      fn: "publish",
      parent: PARENT,
      args: { registry: "ghcr.io/acme", username: "bot", password: "secret-password-id" },
    },
    manifest,
  );
  const chain = chains.find((c) => c.at(-2) === 'file(path: "/src/reports/build.json")') ?? [];
  assert.ok(chain.includes('withEnvVariable(name: "CODEX_REGISTRY_USERNAME", value: "bot")'));
  assert.ok(
    chain.includes(
      'withSecretVariable(name: "CODEX_REGISTRY_PASSWORD", secret: "secret-password-id")',
    ),
  );
  assert.ok(chain.some((op) => /withEnvVariable\(name: "CODEX_CI_RUN_ID", value: "mod-/.test(op)));
  assert.is(
    execs(chain).at(-1),
    gql([
      "npx",
      "tsx",
      "ci/main.ts",
      "build",
      "--push",
      "--registry",
      "ghcr.io/acme",
      "--engine",
      "dagger",
    ]),
  );
  assert.is(
    queries.at(-1),
    `{ currentFunctionCall { returnValue(value: ${JSON.stringify(JSON.stringify(pushed))}) } }`,
  );
});

test("deploy: the given socket in the runner, the pipeline on its Docker engine against it", async () => {
  const { chains } = await callModule(
    {
      kind: "invoke",
      fn: "deploy",
      parent: PARENT,
      args: { docker: "socket-id", env: "staging" },
    },
    (field) => (field === "stdout" ? "deployed" : undefined),
  );
  const chain = chains.find((c) => c.at(-1) === "stdout") ?? [];
  assert.ok(chain.includes('withUnixSocket(path: "/var/run/docker.sock", source: "socket-id")'));
  const runs = execs(chain);
  assert.is(
    runs[1],
    gql([
      "apt-get",
      "install",
      "-y",
      "-qq",
      "--no-install-recommends",
      "docker.io",
      "docker-compose",
      "git",
    ]),
  );
  assert.is(
    runs.at(-1),
    gql(["npx", "tsx", "ci/main.ts", "deploy", "--env", "staging", "--engine", "docker"]),
  );
  assert.not.ok(
    chain.some((op) => op.includes("experimentalPrivilegedNesting")),
    "the Docker engine needs no Dagger API",
  );
});

test("deploy without a daemon: the function fails with what to pass, through returnError", async () => {
  const { queries, chains, exited } = await callModule({
    kind: "invoke",
    fn: "deploy",
    parent: PARENT,
  });
  assert.is(exited, 1);
  assert.ok(
    chains.some((c) => c[0]?.startsWith('error(message: "deploy needs a Docker daemon: --docker')),
    "the message reaches the engine",
  );
  assert.ok(queries.some((q) => q.includes("returnError(error:")));
  assert.not.ok(
    queries.some((q) => q.includes("container")),
    "no container is started",
  );
});

test.run();
