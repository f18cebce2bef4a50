/** Gate for tests that need a real Docker daemon: run, skip visibly, or fail under REQUIRE_DOCKER=1. */
import { spawnSync } from "node:child_process";
import type { Test } from "uvu";

/** True when `docker info` answers within a few seconds. */
export const dockerAvailable: boolean = (() => {
  const r = spawnSync("docker", ["info", "--format", "{{.ServerVersion}}"], {
    stdio: "ignore",
    timeout: 10_000,
  });
  return r.status === 0;
})();

/** Registers a test that needs Docker: it runs when Docker answers, fails when REQUIRE_DOCKER=1 and it does not, and is skipped otherwise. */
export function dockerTest(suite: Test, name: string, fn: () => Promise<void> | void): void {
  if (dockerAvailable) suite(name, fn);
  else if (process.env.REQUIRE_DOCKER === "1")
    suite(name, () => {
      throw new Error(
        "Docker daemon unreachable and REQUIRE_DOCKER=1: start dockerd or unset REQUIRE_DOCKER",
      );
    });
  else suite.skip(name, fn);
}
