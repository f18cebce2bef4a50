// The modules under mutation testing, each with the unit tests that judge its mutants.
export const targets = {
  mcplog: { file: "scripts/lib/mcplog.ts", test: "test/unit/scripts/mcplog.test.ts" },
  sessions: { file: "scripts/lib/sessions.ts", test: "test/unit/scripts/sessions.test.ts" },
  collector: { file: "scripts/lib/collector.ts", test: "test/unit/scripts/collector.test.ts" },
  env: { file: "scripts/lib/env.ts", test: "test/unit/scripts/env.test.ts" },
  config: { file: "ci/config.ts", test: "test/unit/ci/config.test.ts" },
};
