import { spawn } from "node:child_process";
import { test } from "uvu";
import * as assert from "uvu/assert";
import { exitCodeOf, groupAlive, groupMembers, ignores } from "../../../scripts/lib/supervisor.js";

test("exit codes: a code as is, a signal as 128 + its number", () => {
  assert.is(exitCodeOf(0, null), 0);
  assert.is(exitCodeOf(3, null), 3);
  assert.is(exitCodeOf(null, "SIGTERM"), 143);
  assert.is(exitCodeOf(null, "SIGKILL"), 137);
  assert.is(exitCodeOf(null, "SIGINT"), 130);
});

test("a group's members are found in /proc, and a background job of sh is seen to ignore SIGINT", async () => {
  const sh = spawn("/bin/sh", ["-c", "sleep 30 & wait"], { detached: true, stdio: "ignore" });
  const pgid = sh.pid as number;
  try {
    let members: number[] = [];
    for (let i = 0; i < 100 && members.length < 2; i++) {
      await new Promise((r) => setTimeout(r, 20));
      members = groupMembers(pgid) ?? [];
    }
    assert.is(members.length, 2, "sh and its background sleep");
    const sleep = members.find((p) => p !== pgid) as number;
    assert.ok(ignores(sleep, "SIGINT"), "background job ignores SIGINT");
    assert.not.ok(ignores(sleep, "SIGTERM"));
    assert.not.ok(ignores(pgid, "SIGINT"), "the shell itself does not");
    assert.ok(groupAlive(pgid));
  } finally {
    process.kill(-pgid, "SIGKILL");
  }
  await new Promise((r) => sh.once("exit", r));
  for (let i = 0; i < 100 && groupAlive(pgid); i++) await new Promise((r) => setTimeout(r, 20));
  assert.not.ok(groupAlive(pgid));
  assert.not.ok(ignores(999_999_999, "SIGINT"), "a missing process ignores nothing");
});

test.run();
