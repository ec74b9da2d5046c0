// Seeds a Lineage node with the demo's sample collection, through our own package: uploads the
// meta contract `tests/fixtures/mc_open.wasm` (`put_module`), binds it to the collection, and
// publishes a few tokens' metadata — one with a long history (to show verification progress) —
// signed by the demo curator's Ed25519 key. Idempotent: a node that already holds the collection
// is left as it is. `npm start` runs it on every start; tests/www/demo.test.mjs uses it too.
//
//   node scripts/demo-seed.mjs http://127.0.0.1:3030
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = join(import.meta.dirname, "..");
const lib = await import(pathToFileURL(join(ROOT, "pkg", "dist", "index.js")).href);

/**
 * The sample collection. The curator's key is derived from a fixed, published seed: it is a demo
 * identity anyone can reproduce, never a key to trust with anything.
 */
export const SAMPLE = Object.freeze({
  chainId: "80001",
  tokenAddress: "0xde30000000000000000000000000000000000001",
  metaContractId: "lineage-demo",
  version: "v1",
  curatorSeed: new Uint8Array(32).fill(0x1d),
  longHistoryToken: "5",
  longHistoryVersions: 120,
  tokens: [
    { tokenId: "1", versions: [{ name: "Ada", description: "The first sample token." }, { name: "Ada Lovelace", description: "The first sample token, renamed.", attributes: [{ trait_type: "era", value: "1840s" }] }] },
    { tokenId: "2", versions: [{ name: "Grace", description: "The second sample token.", attributes: [{ trait_type: "era", value: "1950s" }] }] },
    { tokenId: "3", versions: [{ name: "Edsger", description: "Goto considered harmful." }, { name: "Edsger", description: "Shortest paths." }, { name: "Edsger W. Dijkstra", description: "Shortest paths, semaphores." }] },
    { tokenId: "4", versions: [{ name: "Barbara", description: "Substitution principle." }] },
  ],
});

async function rpc(gateway, method, params) {
  const res = await fetch(`${gateway}/api/v0/json-rpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
    signal: AbortSignal.timeout(30_000),
  });
  const reply = await res.json();
  if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
  return reply.result;
}

/** The curator's signer and public key. */
export async function curator() {
  const signer = lib.keyPairSigner(await lib.KeyPair.fromEd25519SK(SAMPLE.curatorSeed));
  return { signer, publicKey: await signer.publicKey() };
}

/**
 * Seeds `gateway` (unless it already holds the collection). `log(line)` sees progress.
 * Returns `{seeded: boolean, publicKey, moduleCid, tokens: [tokenId…]}`.
 */
export async function seed(gateway, { log = () => {} } = {}) {
  const base = gateway.replace(/\/+$/, "");
  const { signer, publicKey } = await curator();
  const tokens = [...SAMPLE.tokens.map((t) => t.tokenId), SAMPLE.longHistoryToken];
  const record = { gateway: base, chainId: SAMPLE.chainId, tokenAddress: SAMPLE.tokenAddress, metaContractId: SAMPLE.metaContractId, version: SAMPLE.version };
  const bound = await rpc(base, "get_meta_contract_by_id", [SAMPLE.metaContractId]).catch(() => null);
  const lastKey = await rpc(base, "generate_data_key", [SAMPLE.chainId, SAMPLE.tokenAddress, SAMPLE.longHistoryToken]);
  const last = await rpc(base, "get_metadata", [lastKey, SAMPLE.metaContractId, publicKey, "", SAMPLE.version]).catch(() => null);
  if (bound?.meta?.cid && last?.metadata?.cid) {
    log(`sample collection already on ${base}`);
    return { seeded: false, publicKey, moduleCid: bound.meta.cid, tokens };
  }
  const wasm = await readFile(join(ROOT, "tests", "fixtures", "mc_open.wasm"));
  const { cid: moduleCid } = await rpc(base, "put_module", [wasm.toString("base64")]);
  log(`meta contract module ${moduleCid}`);
  const contract = { is_registry: false, registry_id: "", registry_name: "", meta_contract_id: SAMPLE.metaContractId, migrate_from: "", cid: moduleCid };
  await lib.publishMetadata({ ...record, signer, method: "contract", tokenId: "", version: "", prev: "", data: contract });
  log(`bound ${SAMPLE.metaContractId} to ${SAMPLE.chainId}/${SAMPLE.tokenAddress}`);
  for (const t of SAMPLE.tokens) {
    for (const data of t.versions) await lib.publishMetadata({ ...record, signer, tokenId: t.tokenId, data });
    log(`token ${t.tokenId}: ${t.versions.length} version(s)`);
  }
  for (let i = 1; i <= SAMPLE.longHistoryVersions; i++) {
    await lib.publishMetadata({ ...record, signer, tokenId: SAMPLE.longHistoryToken, data: { name: "Long history", description: `Version ${i} of ${SAMPLE.longHistoryVersions}.`, revision: i } });
    if (i % 20 === 0) log(`token ${SAMPLE.longHistoryToken}: ${i}/${SAMPLE.longHistoryVersions} versions`);
  }
  return { seeded: true, publicKey, moduleCid, tokens };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const gateway = process.argv[2] ?? "http://127.0.0.1:3030";
  const r = await seed(gateway, { log: (l) => console.log(l) });
  console.log(JSON.stringify(r));
}
