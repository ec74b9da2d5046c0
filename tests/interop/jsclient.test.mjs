// Wire compatibility with Fluence: real @fluencelabs/js-client 0.9.0 peers run Aqua compiled by
// @fluencelabs/aqua-api 0.14.6 against lineage-node, unchanged. The suite itself is suite.mjs;
// ours.test.mjs runs the same suite with our package, mixed.test.mjs mixes the two.
//
//   LINEAGE_NODE_BIN=$CARGO_TARGET_DIR/debug/lineage-node node --test tests/interop/
//
// Without LINEAGE_NODE_BIN only the offline checks run (compiler, generated imports, js-client
// key pairs); the tests against the node are skipped, saying so.
// INTEROP_NODE_LOG=1 echoes the node's output; INTEROP_TTL_MS sets the particle TTL (20000).
import { after, test } from "node:test";
import assert from "node:assert/strict";

import { blueprintDagJson, cidRawSha256, exitIfStuck } from "./harness.mjs";
import { interopSuite } from "./suite.mjs";

after(() => exitIfStuck());

// Client-independent, so only here.
test("nox module/blueprint ids computed by the harness match nox's own test vector", () => {
  // nox crates/service-modules/src/modules/blueprint.rs `test_blueprint_hash`
  const bp = blueprintDagJson("trust-graph", [
    "bafybeiey4i2vtj7uu7tlvdoc2o52uuuwxa4ahcx5g4lpqzk4qtd5klniuq",
    "bafybeibuvzascfzi5ikyzhjxdkridgytg4z26ujtnx7xrejq7gxq54ssdm",
  ]);
  assert.equal(cidRawSha256(Buffer.from(bp)), "bafkreifdehdwcppttfsqaju4kodgn5wgbefrarbzc72k4sore2bwpeq2fa");
});

interopSuite("jsclient");
