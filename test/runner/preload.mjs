// Loaded by test/run.ts with `--import` before uvu: test files that import "uvu" get test/runner/uvu.ts,
// which records each test's time, each skip's name and each hook's error (see test/run.ts).
import { register } from "node:module";

register("./resolve-uvu.mjs", import.meta.url);
