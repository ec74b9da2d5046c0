// Seeds a Lineage node with the demo's sample collection, through our own package: uploads the
// meta contract `tests/fixtures/mc_open.wasm` (`put_module`), binds it to the collection, and
// publishes a few tokens' metadata — one with a long history (to show verification progress) —
// signed by the demo curator's Ed25519 key. Idempotent and resumable: it writes only what the node
// does not hold yet. `npm start` runs it on every start; tests/www/demo.test.mjs uses it too.
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

/** How many versions of `tokenId`'s curator record the node holds (0 = none). */
async function versionCount(base, publicKey, tokenId) {
  const key = await rpc(base, "generate_data_key", [SAMPLE.chainId, SAMPLE.tokenAddress, tokenId]);
  const r = await rpc(base, "get_metadata_with_history", [key, SAMPLE.metaContractId, publicKey, "", SAMPLE.version]);
  return r?.cids?.length ?? 0;
}

/**
 * Seeds `gateway` with whatever of the sample collection it does not hold yet — so a run
 * interrupted half-way is completed by the next, and a complete node is left as it is: the
 * contract is bound unless it is, and each token gets the versions it is missing (counted along
 * its history). `log(line)` sees progress.
 * Returns `{seeded: boolean (anything written), publicKey, moduleCid, tokens: [tokenId…]}`.
 */
export async function seed(gateway, { log = () => {} } = {}) {
  const base = gateway.replace(/\/+$/, "");
  const { signer, publicKey } = await curator();
  const record = { gateway: base, chainId: SAMPLE.chainId, tokenAddress: SAMPLE.tokenAddress, metaContractId: SAMPLE.metaContractId, version: SAMPLE.version };
  const long = {
    tokenId: SAMPLE.longHistoryToken,
    versions: Array.from({ length: SAMPLE.longHistoryVersions }, (_, i) => ({ name: "Long history", description: `Version ${i + 1} of ${SAMPLE.longHistoryVersions}.`, revision: i + 1 })),
  };
  const tokens = [...SAMPLE.tokens, long];
  let wrote = false;

  let moduleCid = (await rpc(base, "get_meta_contract_by_id", [SAMPLE.metaContractId]).catch(() => null))?.meta?.cid;
  if (!moduleCid) {
    const wasm = await readFile(join(ROOT, "tests", "fixtures", "mc_open.wasm"));
    ({ cid: moduleCid } = await rpc(base, "put_module", [wasm.toString("base64")]));
    log(`meta contract module ${moduleCid}`);
    const contract = { is_registry: false, registry_id: "", registry_name: "", meta_contract_id: SAMPLE.metaContractId, migrate_from: "", cid: moduleCid };
    await lib.publishMetadata({ ...record, signer, method: "contract", tokenId: "", version: "", prev: "", data: contract });
    log(`bound ${SAMPLE.metaContractId} to ${SAMPLE.chainId}/${SAMPLE.tokenAddress}`);
    wrote = true;
  }
  for (const t of tokens) {
    const have = await versionCount(base, publicKey, t.tokenId);
    if (have >= t.versions.length) continue;
    for (let i = have; i < t.versions.length; i++) {
      await lib.publishMetadata({ ...record, signer, tokenId: t.tokenId, data: t.versions[i] });
      if ((i + 1) % 20 === 0 || i + 1 === t.versions.length) log(`token ${t.tokenId}: ${i + 1}/${t.versions.length} versions`);
    }
    wrote = true;
  }
  if (!wrote) log(`sample collection already on ${base}`);
  return { seeded: wrote, publicKey, moduleCid, tokens: tokens.map((t) => t.tokenId) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const gateway = process.argv[2] ?? "http://127.0.0.1:3030";
  const r = await seed(gateway, { log: (l) => console.log(l) });
  console.log(JSON.stringify(r));
}
