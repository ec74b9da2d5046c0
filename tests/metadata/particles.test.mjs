// Lineage's Aqua service `transaction` on lineage-node, through particles: Aqua compiled by the
// real compiler (@fluencelabs/aqua-api) for js-client, run by real js-client 0.9 and, with only its
// import rewritten, by our package. Ed25519 transactions are signed with node:crypto over the
// canonical bytes of docs/metadata-signing.md (support.mjs).
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import { compileFromPath } from "@fluencelabs/aqua-api";
import {
  connectClient,
  disconnectClient,
  exitIfStuck,
  fixtureBase64,
  importGenerated,
  loadClient,
  ourPackageStatus,
  startNode,
  teardown,
} from "../interop/harness.mjs";
import { ed25519Signer, transactionHash as txHash } from "./support.mjs";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const GEN = join(HERE, "gen", "particles");
const NODE_BIN = process.env.LINEAGE_NODE_BIN;
const T = { timeout: 60_000 };

after(async () => {
  await teardown();
  exitIfStuck();
});

const CHAIN = "80001";
const ADDR = "0x0692f233614802D06e86CBDE6b5D090A9F5d3c10";

let compiled;
async function compileLineage() {
  if (compiled) return compiled;
  await rm(GEN, { recursive: true, force: true });
  await mkdir(GEN, { recursive: true });
  await writeFile(join(GEN, "package.json"), '{ "type": "module" }\n');
  const res = await compileFromPath({
    filePath: join(HERE, "aqua", "lineage.aqua"),
    imports: { "/": { "@fluencelabs/aqua-lib": join(ROOT, "node_modules", "@fluencelabs", "aqua-lib") } },
    targetType: "js",
  });
  if (res.errors.length) throw new Error(res.errors.join("\n"));
  const js = join(GEN, "lineage.js");
  await writeFile(js, res.generatedSources[0].jsSource);
  compiled = js;
  return js;
}

const pkg = ourPackageStatus();
for (const name of ["jsclient", "ours"]) {
  const skip = !NODE_BIN ? "LINEAGE_NODE_BIN is not set" : name === "ours" ? pkg.skip : false;
  describe(`transaction service through particles (${name})`, { skip }, () => {
    let node;
    let client;
    let gen;
    const owner = ed25519Signer(Buffer.alloc(32, name === "ours" ? 7 : 8));
    before(async () => {
      const kit = await loadClient(name);
      gen = await importGenerated(await compileLineage(), kit);
      node = await startNode();
      client = await connectClient(kit, node.wsAddr);
    });
    after(async () => {
      if (client) await disconnectClient(client).catch(() => {});
      if (node) await node.stop();
    });

    test("generate_data_key gives Lineage's key", T, async () => {
      assert.equal(await gen.generateDataKey(client, CHAIN, ADDR, "1"), "21d7zhefyND97abvvBwNp5AYP2geVxrboW44prVkXhmv");
    });

    test("put_module, bind a meta contract, publish, read back", T, async () => {
      const cid = await gen.putModule(client, await fixtureBase64("mc_open"));
      assert.match(cid, /^bafkrei/);
      const contract = await owner.sign({
        method: "contract", meta_contract_id: "open", chain_id: CHAIN, token_address: ADDR,
        data: JSON.stringify({ is_registry: false, registry_id: "", registry_name: "", meta_contract_id: "open", migrate_from: "", cid }),
      });
      const bound = await gen.publish(client, contract);
      assert.equal(bound.success, true, JSON.stringify(bound));
      assert.equal(bound.transaction_hash, txHash(contract));

      const tx = await owner.sign({ meta_contract_id: "open", chain_id: CHAIN, token_address: ADDR, token_id: "1", version: "v1", data: '{"name":"via particles"}' });
      const r = await gen.publish(client, tx);
      assert.equal(r.success, true, JSON.stringify(r));
      assert.equal(r.receipt.status, 1);
      const dk = await gen.generateDataKey(client, CHAIN, ADDR, "1");
      const m = await gen.getMetadata(client, dk, "open", owner.publicKey, "", "v1");
      assert.equal(m.success, true);
      assert.match(m.metadata.cid, /^bafyrei/);
      assert.ok(JSON.parse(r.receipt.data).cids.includes(m.metadata.cid));
      const rc = await gen.getReceipt(client, r.transaction_hash);
      assert.equal(rc.receipt.status, 1);
    });

    test("a refused transaction is an Aqua error naming its code; nothing is stored", T, async () => {
      const tx = await owner.sign({ meta_contract_id: "open", chain_id: CHAIN, token_address: ADDR, token_id: "2", version: "v1", data: "{}" });
      const forged = { ...tx, token_id: "3" };
      await assert.rejects(gen.publish(client, forged), (e) => {
        assert.match(String(e?.message ?? e), /bad_signature/);
        return true;
      });
      const rc = await gen.getReceipt(client, txHash(forged));
      assert.equal(rc.success, false);
    });
  });
}
