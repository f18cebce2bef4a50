import { availableParallelism } from "node:os";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { type Command, parseCommand, UsageError } from "../../../ci/command.js";

const runOf = (argv: string[]) => {
  const c = parseCommand(argv);
  if (c.kind !== "run") throw new Error(`expected a run, got ${c.kind}`);
  return c;
};

test("a run: stages, lists and flags", () => {
  const o = runOf([
    "lint",
    "test",
    "--node",
    "22,24",
    "--only",
    "unit",
    "--skip",
    "scan",
    "--fail-fast",
  ]);
  assert.equal(o.stages, ["lint", "test"]);
  assert.equal(o.overrides.node, ["22", "24"]);
  assert.equal(o.options.only, ["unit"]);
  assert.equal(o.skip, ["scan"]);
  assert.ok(o.options.failFast);
  assert.is(o.engine, "auto");
  assert.is(o.jobs, availableParallelism() + 1, "--jobs defaults to one more than the CPUs");
  assert.is(runOf(["--jobs", "3"]).jobs, 3);
  assert.is(runOf(["-j", "1"]).jobs, 1);
  assert.equal(runOf(["deploy", "--down", "--volumes", "--env", "staging"]).options, {
    only: [],
    failFast: false,
    push: false,
    env: "staging",
    down: true,
    volumes: true,
  });
});

test("--registry goes to the stages as given", () => {
  assert.is(
    runOf(["build", "--push", "--registry", "ghcr.io/acme"]).options.registry,
    "ghcr.io/acme",
  );
});

test("doctor, images and help are commands of their own", () => {
  assert.equal(parseCommand(["doctor", "--fix"]), {
    kind: "doctor",
    config: "ci/pipeline.yaml",
    fix: true,
    progress: "auto",
  } satisfies Command);
  assert.equal(parseCommand(["images", "--offline", "--node", "22", "--config", "x.yaml"]), {
    kind: "images",
    config: "x.yaml",
    force: false,
    overrides: { node: ["22"] },
    progress: "auto",
  } satisfies Command);
  assert.equal(parseCommand(["lint", "--help"]), { kind: "help" });
});

test("--progress chooses auto (default), tty or plain for runs, images and the doctor", () => {
  const run = parseCommand(["lint", "--progress", "plain"]);
  assert.is(run.kind === "run" && run.progress, "plain");
  const doctor = parseCommand(["doctor", "--progress", "tty"]);
  assert.is(doctor.kind === "doctor" && doctor.progress, "tty");
  const images = parseCommand(["images", "--offline"]);
  assert.is(images.kind === "images" && images.progress, "auto");
});

test("bad values, and flags of another command, are usage errors naming the flag", () => {
  for (const [bad, message] of [
    [["lnt"], /stage: unknown value "lnt"/],
    [["--engine", "podman"], /--engine: unknown value "podman"/],
    [["--node", "x"], /--node: "x" is not a Node version/],
    [["--platform", "amd64"], /--platform: "amd64" is not a platform/],
    [["--only", "smoke"], /--only: unknown value "smoke"/],
    [["--nope"], /--nope/],
    [["deploy", "--env", "qa"], /--env: unknown value "qa"/],
    [["--jobs", "0"], /--jobs: "0" is not a whole number/],
    [["--jobs", "1.5"], /--jobs: "1.5"/],
    [["--jobs", "many"], /--jobs: "many"/],
    [["--jobs", "1e3"], /--jobs: "1e3"/],
    [["--jobs", "0x10"], /--jobs: "0x10"/],
    [["--jobs", " 2"], /--jobs: " 2"/],
    [["doctor", "--push"], /--push is not an option of doctor/],
    [["images", "--offline", "--fix"], /--fix is not an option of images/],
    [["images"], /only `images --offline` is supported/],
    [["--fix"], /--fix is not an option of a pipeline run/],
    [["doctor", "lint"], /doctor takes no stage names/],
    [
      ["--progress", "fancy"],
      /--progress: unknown value "fancy"; expected one of auto, tty, plain/,
    ],
    [
      ["build", "--registry", "https://bob:pw@ghcr.io/acme"],
      /--registry: "https:\/\/\*\*\*@ghcr.io\/acme" is not host/,
    ],
  ] as const)
    assert.throws(
      () => parseCommand([...bad]),
      (e: Error) => e instanceof UsageError && message.test(e.message),
      bad.join(" "),
    );
});

test.run();
