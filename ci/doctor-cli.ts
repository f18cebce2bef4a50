/** The doctor on its own, without ci/main.ts: `npx tsx ci/doctor-cli.ts [--fix] [--config <file>]`. */
import { parseArgs } from "node:util";
import { loadConfig } from "./config.js";
import { doctor } from "./doctor.js";

let values: { fix?: boolean; config?: string };
try {
  ({ values } = parseArgs({
    options: { fix: { type: "boolean" }, config: { type: "string" } },
    allowPositionals: false,
  }));
} catch (e) {
  console.error(
    `${(e as Error).message}\nusage: npx tsx ci/doctor-cli.ts [--fix] [--config <file>]`,
  );
  process.exit(2);
}
try {
  const config = await loadConfig(values.config);
  process.exit(await doctor({ fix: values.fix === true, config }));
} catch (e) {
  console.error(`doctor: ${(e as Error).message}`);
  process.exit(2);
}
