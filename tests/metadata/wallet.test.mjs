// publishMetadata and the signers of our package (pkg/dist, the shipped bundle) in Node against a
// real lineage-node: an EIP-1193 wallet (a real ethers Wallet behind `request`) signs EIP-712
// typed data, an Ed25519 KeyPair signs the canonical bytes; each new version is then verified
// from the gateway. A rejection in the wallet, a wallet signing with another key, a stale head
// and a meta contract's refusal are typed errors that leave the record as it was.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { join } from "node:path";

import { Wallet } from "ethers";

import { exitIfStuck, teardown } from "../interop/harness.mjs";
import { bindContract, call, dataKey, ed25519Signer, evmSigner, putModule, startNode, transactionHash } from "./support.mjs";
import { ethersProvider } from "./wallet-provider.mjs";

const lib = await import(join(import.meta.dirname, "..", "..", "pkg", "dist", "index.js"));
const { KeyPair, discoverWallets, keyPairSigner, publishMetadata, verifyMetadata, walletSigner } = lib;

after(async () => {
  await teardown();
  exitIfStuck();
});

const T = { timeout: 120_000 };
const CHAIN = "80001";
const COLLECTION = "0x000000000000000000000000000000000000a11e";
let url;
let moduleCid;

before(async () => {
  const node = await startNode();
  url = node.httpUrl;
  moduleCid = await putModule(url, "mc_open");
  const bound = await bindContract(url, ed25519Signer(), { id: "open", cid: moduleCid, chainId: CHAIN, tokenAddress: COLLECTION });
  assert.equal(bound.success, true, JSON.stringify(bound));
});

const token = (tokenId, extra = {}) => ({ gateway: url, chainId: CHAIN, tokenAddress: COLLECTION, tokenId, metaContractId: "open", version: "v1", ...extra });
/** The record's head on the node ("" = none; an RPC failure throws). */
const head = async (tokenId, publicKey) =>
  (await call(url, "get_metadata", [dataKey(CHAIN, COLLECTION, tokenId), "open", /^0x/i.test(publicKey) ? publicKey.toLowerCase() : publicKey, "", "v1"])).metadata.cid || null;

/** Counts the JSON-RPC `publish` calls made while `fn` runs (a spy on the global fetch). */
async function publishesDuring(fn) {
  const real = globalThis.fetch;
  let n = 0;
  globalThis.fetch = async (input, init) => {
    if (typeof init?.body === "string" && JSON.parse(init.body).method === "publish") n++;
    return real(input, init);
  };
  try {
    await fn();
  } finally {
    globalThis.fetch = real;
  }
  return n;
}

describe("publishMetadata with an EIP-1193 wallet", T, () => {
  it("signs EIP-712 typed data the wallet is shown, publishes, and the new version verifies", async () => {
    const provider = ethersProvider();
    const signer = walletSigner(provider);
    const stages = [];
    const r1 = await publishMetadata({ ...token("1"), signer, data: { name: "Ada" }, onProgress: (p) => stages.push(p.stage) });
    assert.deepEqual(stages, ["account", "prev", "sign", "send", "done"]);
    assert.match(r1.cid, /^bafy/);
    assert.equal(r1.request.public_key, provider.wallet.address);
    assert.equal(r1.transactionHash, transactionHash(r1.request), "the hash the node filed is the one computed independently");
    // What the wallet showed: the typed data of every signed field, for this account.
    const shown = provider.calls.find((c) => c.method === "eth_signTypedData_v4");
    assert.equal(shown.params[0], provider.wallet.address);
    const typed = JSON.parse(shown.params[1]);
    assert.equal(typed.primaryType, "LineageTransaction");
    assert.deepEqual(typed.domain, { name: "lineage-tx", version: "1" });
    assert.equal(typed.message.data, JSON.stringify({ name: "Ada" }));
    assert.equal(typed.message.prev, "");
    assert.equal(typed.message.token_id, "1");

    // The second version: prev looked up (= the first), then verified from the gateway.
    const r2 = await publishMetadata({ ...token("1"), signer, data: { name: "Ada Lovelace" } });
    assert.equal(r2.request.prev, r1.cid);
    const v = await verifyMetadata({ ...token("1"), publicKey: provider.wallet.address.toLowerCase() });
    assert.equal(v.cid, r2.cid);
    assert.deepEqual(v.content, { name: "Ada Lovelace" });
    assert.deepEqual(v.versions.map((x) => x.content.name), ["Ada Lovelace", "Ada"]);
  });

  it("a rejection in the wallet is USER_REJECTED and nothing is sent", async () => {
    const provider = ethersProvider({ decide: (m) => m !== "eth_signTypedData_v4" });
    const signer = walletSigner(provider);
    const sent = await publishesDuring(() =>
      assert.rejects(publishMetadata({ ...token("2"), signer, data: { name: "no" } }), (e) => {
        assert.equal(e.code, "USER_REJECTED", e.message);
        assert.equal(e.walletCode, 4001);
        return true;
      }),
    );
    assert.equal(sent, 0, "nothing was sent");
    assert.equal(await head("2", provider.wallet.address), null, "no record was written");
    // Refusing the account request is the same error, one step earlier.
    const shy = walletSigner(ethersProvider({ decide: (m) => m !== "eth_requestAccounts" }));
    await assert.rejects(publishMetadata({ ...token("2"), signer: shy, data: {} }), (e) => e.code === "USER_REJECTED");
  });

  it("a wallet that signs with another key is caught before sending (SIGNATURE_INVALID)", async () => {
    const provider = ethersProvider({ signAs: Wallet.createRandom() });
    const sent = await publishesDuring(() =>
      assert.rejects(publishMetadata({ ...token("3"), signer: walletSigner(provider), data: { name: "x" } }), (e) => {
        assert.equal(e.code, "SIGNATURE_INVALID", e.message);
        return true;
      }),
    );
    assert.equal(sent, 0, "nothing was sent");
    assert.equal(await head("3", provider.wallet.address), null);
  });

  it("a stale prev is PUBLISH_REJECTED with reason stale_prev, and the head stays", async () => {
    const provider = ethersProvider();
    const signer = walletSigner(provider);
    const first = await publishMetadata({ ...token("4"), signer, data: { n: 1 } });
    await publishMetadata({ ...token("4"), signer, data: { n: 2 } });
    const current = await head("4", provider.wallet.address);
    await assert.rejects(publishMetadata({ ...token("4"), signer, data: { n: 3 }, prev: first.cid }), (e) => {
      assert.equal(e.code, "PUBLISH_REJECTED", e.message);
      assert.equal(e.reason, "stale_prev");
      return true;
    });
    assert.equal(await head("4", provider.wallet.address), current);
  });

  it("legacy personal_sign is refused by a node without --legacy-signatures, accepted with it", async () => {
    const provider = ethersProvider();
    const legacy = walletSigner(provider, { legacy: true });
    await assert.rejects(publishMetadata({ ...token("5"), signer: legacy, data: { n: 1 } }), (e) => {
      assert.equal(e.code, "PUBLISH_REJECTED", e.message);
      assert.equal(e.reason, "bad_signature", e.message); // read as strong mode, it matches no key
      return true;
    });
    assert.ok(provider.calls.some((c) => c.method === "personal_sign"), "the wallet was asked to personal_sign");
    // The same on a node that takes legacy signatures: published, and marked replayable.
    const lax = await startNode({ args: ["--legacy-signatures"] });
    const cid = await putModule(lax.httpUrl, "mc_open");
    assert.equal((await bindContract(lax.httpUrl, ed25519Signer(), { id: "open", cid, chainId: CHAIN, tokenAddress: COLLECTION })).success, true);
    const r = await publishMetadata({ ...token("5", { gateway: lax.httpUrl }), signer: legacy, data: { n: 1 } });
    assert.equal(r.receipt.replayable, true);
    // A legacy signature by another key is caught locally too.
    const forger = walletSigner(ethersProvider({ signAs: Wallet.createRandom() }), { legacy: true });
    await assert.rejects(publishMetadata({ ...token("6", { gateway: lax.httpUrl }), signer: forger, data: {} }), (e) => e.code === "SIGNATURE_INVALID");
  });

  it("the account option picks one of the wallet's accounts; an unknown one is WALLET_UNAUTHORIZED", async () => {
    const provider = ethersProvider();
    const s = walletSigner(provider, { account: provider.wallet.address.toLowerCase() });
    assert.equal(await s.publicKey(), provider.wallet.address);
    await assert.rejects(walletSigner(provider, { account: Wallet.createRandom().address }).publicKey(), (e) => e.code === "WALLET_UNAUTHORIZED");
  });
});

describe("publishMetadata with an Ed25519 KeyPair, and bad input", T, () => {
  it("keyPairSigner signs the canonical bytes as the independent signer does", async () => {
    const seed = new Uint8Array(32).fill(9);
    const kp = await KeyPair.fromEd25519SK(seed);
    const signer = keyPairSigner(kp);
    const reference = ed25519Signer(seed);
    assert.equal(await signer.publicKey(), reference.publicKey);
    const r = await publishMetadata({ ...token("6"), signer, data: { name: "Grace" }, timestamp: Date.now() });
    const again = await reference.sign({ ...r.request, signature: "" });
    assert.equal(r.request.signature, again.signature, "Ed25519 is deterministic: both sign the same bytes");
    const v = await verifyMetadata({ ...token("6"), publicKey: reference.publicKey });
    assert.deepEqual(v.content, { name: "Grace" });
  });

  it("a meta contract's refusal is PUBLISH_REJECTED contract_rejected with the failed receipt", async () => {
    const owner = await putModule(url, "mc_owner");
    const alice = evmSigner(Wallet.createRandom());
    const owned = "0x000000000000000000000000000000000000a1ce";
    const bound = await bindContract(url, alice, { id: "owned", cid: owner, chainId: CHAIN, tokenAddress: owned });
    assert.equal(bound.success, true, JSON.stringify(bound));
    const bob = keyPairSigner(await KeyPair.randomEd25519());
    await assert.rejects(publishMetadata({ ...token("7", { metaContractId: "owned", tokenAddress: owned }), signer: bob, data: {} }), (e) => {
      assert.equal(e.code, "PUBLISH_REJECTED", e.message);
      assert.equal(e.reason, "contract_rejected");
      assert.match(e.receipt.error_text, /owner/);
      return true;
    });
  });

  it("bad arguments and an unreachable gateway are typed errors", async () => {
    const signer = keyPairSigner(await KeyPair.randomEd25519());
    await assert.rejects(publishMetadata({ ...token("8"), signer: {}, data: {} }), (e) => e.code === "BAD_ARGUMENT");
    await assert.rejects(publishMetadata({ ...token("8", { tokenId: 8 }), signer, data: {} }), (e) => e.code === "BAD_ARGUMENT");
    await assert.rejects(publishMetadata({ ...token("8", { gateway: "ftp://x" }), signer, data: {} }), (e) => e.code === "BAD_ARGUMENT");
    await assert.rejects(publishMetadata({ ...token("8", { gateway: "http://127.0.0.1:9" }), signer, data: {} }), (e) => e.code === "FETCH_FAILED");
    assert.throws(() => walletSigner({}), (e) => e.code === "BAD_ARGUMENT");
    assert.throws(() => keyPairSigner("seed"), (e) => e.code === "BAD_ARGUMENT");
  });
});

describe("discoverWallets (EIP-6963)", () => {
  it("collects each announced provider once, and falls back to a legacy window.ethereum", async () => {
    const target = new EventTarget();
    const wallets = [1, 2].map((n) => ({ info: { uuid: `u${n}`, name: `W${n}`, icon: "", rdns: `w${n}.test` }, provider: ethersProvider() }));
    target.addEventListener("eip6963:requestProvider", () => {
      for (const w of [...wallets, wallets[0]]) target.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: w }));
    });
    const found = await discoverWallets({ target, timeoutMs: 20 });
    assert.deepEqual(found.map((w) => w.info.rdns), ["w1.test", "w2.test"]);
    assert.equal(found[1].provider, wallets[1].provider);

    const legacy = new EventTarget();
    legacy.ethereum = ethersProvider();
    const [only] = await discoverWallets({ target: legacy, timeoutMs: 10 });
    assert.equal(only.provider, legacy.ethereum);
    assert.deepEqual(await discoverWallets({ target: new EventTarget(), timeoutMs: 10 }), []);
    assert.deepEqual(await discoverWallets({ target: null }), [], "no window (Node, workers): none");
  });
});
