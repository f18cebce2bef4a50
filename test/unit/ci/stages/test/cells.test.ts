/** The test matrix's cells: each runs with REQUIRE_DOCKER=1, and an e2e cell's daemon has what its tests run. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { loadConfig, matrixCells, nodeImage } from "../../../../../ci/config.js";
import { e2eImages } from "../../../../../ci/stages/test/index.js";

test("an e2e cell's daemon gets every matrix node image and docker:dind (the Docker engine's e2e tests run them)", async () => {
  const config = await loadConfig();
  const images = e2eImages(config);
  for (const v of config.node) assert.ok(images.includes(nodeImage(config, v)), `node ${v}`);
  assert.ok(images.includes(config.images.dind), config.images.dind);
  assert.ok(images.includes(config.images.prometheus));
  assert.ok(matrixCells(config, undefined).some((c) => c.kind === "e2e"));
});

test.run();
