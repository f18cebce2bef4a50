import { test } from "uvu";
import * as assert from "uvu/assert";
import { execIfSimple, exitCodeOf } from "../../../scripts/lib/supervisor.js";

test("exit codes: a code as is, a signal as 128 + its number", () => {
  assert.is(exitCodeOf(0, null), 0);
  assert.is(exitCodeOf(3, null), 3);
  assert.is(exitCodeOf(null, "SIGTERM"), 143);
  assert.is(exitCodeOf(null, "SIGKILL"), 137);
  assert.is(exitCodeOf(null, "SIGINT"), 130);
});

test("simple commands are exec'd by sh; compound ones run as written", () => {
  assert.is(
    execIfSimple("node /app/mcp/dist/index.js --port 3000"),
    "exec node /app/mcp/dist/index.js --port 3000",
  );
  assert.is(execIfSimple("cd /app/mcp && node dist/index.js"), "cd /app/mcp && node dist/index.js");
  assert.is(execIfSimple("a; b"), "a; b");
  assert.is(execIfSimple("exec node x"), "exec node x");
});

test.run();
