import { readFileSync } from "node:fs";
import { test } from "uvu";
import * as assert from "uvu/assert";
import {
  composeArgs,
  composeFor,
  STACK_SECRETS,
  STACK_VARIABLES,
} from "../../../../../ci/stages/deploy/compose.js";

/** Every variable a compose file interpolates (`${NAME…}` or `$NAME`, not `$$`). */
function interpolated(text: string): Set<string> {
  const names = new Set<string>();
  for (const line of text.split("\n")) {
    const code = line.replace(/^\s*#.*$/, "");
    for (const m of code.matchAll(/(?<!\$)\$(?:\{([A-Za-z_]\w*)|([A-Za-z_]\w*))/g))
      names.add((m[1] ?? m[2]) as string);
  }
  return names;
}

test("the stack's variables and secrets are exactly what docker/compose.yaml reads, besides CODEX_IMAGE", () => {
  const read = interpolated(readFileSync("docker/compose.yaml", "utf8"));
  const listed = new Set<string>([...STACK_VARIABLES, ...STACK_SECRETS, "CODEX_IMAGE"]);
  assert.equal([...read].filter((n) => !listed.has(n)).sort(), [], "read but not passed on");
  assert.equal([...listed].filter((n) => !read.has(n)).sort(), [], "listed but not read");
  assert.equal(
    STACK_VARIABLES.filter((n) => (STACK_SECRETS as readonly string[]).includes(n)),
    [],
  );
});

test("composeArgs puts the project and the files before the command", () => {
  assert.equal(
    composeArgs({ bin: ["docker", "compose"], project: "p", files: ["a.yaml", "b.yaml"] }, "build"),
    ["docker", "compose", "-p", "p", "-f", "a.yaml", "-f", "b.yaml", "build"],
  );
});

test("docker-compose v1 gets DOCKER_CONTEXT as --context (it ignores the variable); v2 follows the CLI", () => {
  assert.equal(composeFor(["docker-compose"], "app-host"), [
    "docker-compose",
    "--context",
    "app-host",
  ]);
  assert.equal(composeFor(["docker-compose"]), ["docker-compose"]);
  assert.equal(composeFor(["docker", "compose"], "app-host"), ["docker", "compose"]);
});

test.run();
