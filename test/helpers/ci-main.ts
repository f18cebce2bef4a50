/**
 * Runs the pipeline CLI (ci/main.ts) in this process, as `node --import tsx ci/main.ts <argv>` would: stdout is
 * what main() writes through ci/lib/log.ts, stderr and the exit code of an error it throws come from failure(),
 * the same function the entry point uses. Saves the start of a process per case; each test file keeps one real
 * spawn for the process boundary.
 */
import { setWriter } from "../../ci/lib/log.js";
import { failure, main } from "../../ci/main.js";

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

export async function runMain(argv: string[]): Promise<CliRun> {
  let stdout = "";
  setWriter((t) => {
    stdout += t;
  });
  try {
    return { status: await main(argv), stdout, stderr: "" };
  } catch (e) {
    const f = failure(e as Error);
    return { status: f.code, stdout, stderr: f.stderr };
  } finally {
    setWriter((t) => process.stdout.write(t));
  }
}
