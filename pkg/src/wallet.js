// Signing and publishing Lineage transactions from a page, a worker or Node: with the wallet the
// user already has (any EIP-1193 provider, found with EIP-6963 when several are injected) or with
// an Ed25519 `KeyPair`. What is signed — EIP-712 typed data or the canonical bytes — is computed
// by the Marine-runtime wasm with the node's own code (`lineage_metadata::sign`).

import { codedError, errorText } from "./errors.js";
import { canonicalKey, checkLimit, FETCH_TIMEOUT_MS, gatewayBase, MAX_TIMEOUT_MS, recordHead, rpc } from "./gateway.js";
import { loadMarine } from "./wasm.js";

/**
 * Finds the wallets injected into this page (EIP-6963): dispatches `eip6963:requestProvider`
 * and collects every `eip6963:announceProvider` answered within `timeoutMs`, one per
 * `info.uuid`. When none announce but a legacy `window.ethereum` exists, that one is returned
 * with `info.rdns` `"legacy.window.ethereum"`. Where there is no `window` (workers, Node): `[]`.
 *
 * @example
 * const [wallet] = await discoverWallets();
 * const signer = walletSigner(wallet.provider);
 *
 * @returns `[{info: {uuid, name, icon, rdns}, provider}]` in announcement order.
 */
export async function discoverWallets({ timeoutMs = 150, target = globalThis.window } = {}) {
  if (!target || typeof target.addEventListener !== "function" || typeof target.dispatchEvent !== "function") return [];
  const found = new Map();
  const onAnnounce = (event) => {
    const { info, provider } = event?.detail ?? {};
    if (!info || typeof info.uuid !== "string" || typeof provider?.request !== "function") return;
    if (!found.has(info.uuid)) found.set(info.uuid, Object.freeze({ info: Object.freeze({ ...info }), provider }));
  };
  target.addEventListener("eip6963:announceProvider", onAnnounce);
  try {
    target.dispatchEvent(new Event("eip6963:requestProvider"));
    await new Promise((resolve) => setTimeout(resolve, timeoutMs));
  } finally {
    target.removeEventListener("eip6963:announceProvider", onAnnounce);
  }
  if (found.size === 0 && typeof target.ethereum?.request === "function") {
    const info = { uuid: "legacy-window-ethereum", name: "Injected wallet", icon: "", rdns: "legacy.window.ethereum" };
    return [Object.freeze({ info: Object.freeze(info), provider: target.ethereum })];
  }
  return [...found.values()];
}

/** Maps an EIP-1193 provider error to ours: 4001 → `USER_REJECTED`, 4100 → `WALLET_UNAUTHORIZED`, … */
function walletError(method, err) {
  // ethers and some wallets nest the provider's RpcError.
  const code = [err?.code, err?.error?.code, err?.info?.error?.code, err?.data?.originalError?.code].find((c) => typeof c === "number");
  const ours = { 4001: "USER_REJECTED", 4100: "WALLET_UNAUTHORIZED", 4200: "WALLET_UNSUPPORTED", 4900: "WALLET_DISCONNECTED", 4901: "WALLET_DISCONNECTED" }[code] ?? "WALLET_ERROR";
  const what = ours === "USER_REJECTED" ? "the user rejected the request" : errorText(err);
  return codedError(ours, `wallet ${method}: ${what}`, { walletCode: code, cause: err });
}

async function ask(provider, method, params) {
  try {
    return await provider.request(params === undefined ? { method } : { method, params });
  } catch (err) {
    throw walletError(method, err);
  }
}

/**
 * A signer backed by an EIP-1193 provider (MetaMask, Rabby, an extension, or in tests an
 * `ethers` Wallet behind `request`): the account is asked for with `eth_requestAccounts` (each
 * time: the user may switch accounts; a connected wallet answers at once); transactions are signed with `eth_signTypedData_v4`, so the wallet shows
 * every field the node will check (method, token, data, prev, timestamp…). `account` picks one
 * of the wallet's accounts. `legacy: true` signs Lineage's legacy form with `personal_sign` (only
 * `data`; nodes accept it with `--legacy-signatures` only).
 *
 * @example
 * const signer = walletSigner(window.ethereum);
 * const receipt = await publishMetadata({ gateway, signer, chainId: "80001", tokenAddress,
 *   tokenId: "1", metaContractId: "open", version: "v1", data: { name: "Ada" } });
 */
export function walletSigner(provider, { account, legacy = false } = {}) {
  if (typeof provider?.request !== "function") throw codedError("BAD_ARGUMENT", "an EIP-1193 provider has a request({method, params}) function");
  // Asked every time (a connected wallet answers at once): the user may have switched accounts.
  const publicKey = async () => {
    const accounts = await ask(provider, "eth_requestAccounts");
    if (!Array.isArray(accounts) || accounts.length === 0) throw codedError("WALLET_UNAUTHORIZED", "the wallet gave no account");
    const pick = account === undefined ? accounts[0] : accounts.find((a) => String(a).toLowerCase() === String(account).toLowerCase());
    if (typeof pick !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(pick)) {
      throw codedError("WALLET_UNAUTHORIZED", account === undefined ? `the wallet's account ${JSON.stringify(pick)} is not an address` : `the wallet has no account ${account}`);
    }
    return pick;
  };
  return {
    kind: "evm",
    /** The wallet's current account as the wallet spells it (the node stores it lower-cased). */
    publicKey,
    /** `request` (public_key filled in: the current account) with its `signature`. */
    async sign(request) {
      const from = await publicKey();
      const req = { ...request, public_key: from };
      if (legacy) {
        const hex = `0x${[...new TextEncoder().encode(req.data)].map((b) => b.toString(16).padStart(2, "0")).join("")}`;
        req.signature = await ask(provider, "personal_sign", [hex, from]);
      } else {
        const { typedData } = (await loadMarine()).signingPayload(JSON.stringify(req));
        req.signature = await ask(provider, "eth_signTypedData_v4", [from, typedData]);
      }
      if (typeof req.signature !== "string") throw codedError("WALLET_ERROR", "the wallet returned no signature");
      return req;
    },
    legacy,
  };
}

/**
 * A signer with an Ed25519 {@link KeyPair} (this package's, as `KeyPair.randomEd25519()` or
 * `fromBase58Sk` make): strong mode over the canonical bytes.
 *
 * @example
 * const signer = keyPairSigner(await KeyPair.randomEd25519());
 */
export function keyPairSigner(keyPair) {
  if (typeof keyPair?.toEd25519PrivateKey !== "function") throw codedError("BAD_ARGUMENT", "keyPairSigner takes a KeyPair");
  return {
    kind: "ed25519",
    async publicKey() {
      return (await loadMarine()).ed25519PublicKey(keyPair.toEd25519PrivateKey());
    },
    async sign(request) {
      return JSON.parse((await loadMarine()).signEd25519(JSON.stringify(request), keyPair.toEd25519PrivateKey()));
    },
    legacy: false,
  };
}

/**
 * Builds, signs and publishes a `metadata` transaction on a Lineage node, and returns its receipt.
 * `prev` (the head this version replaces) is looked up on the node when not given: a node that
 * lies about it only gets the transaction refused (`stale_prev`), as the signature covers it.
 * Before anything is sent the signature is checked locally (strong or legacy), so a wallet that
 * signed with another account, or switched accounts meanwhile, is caught here.
 *
 * `data` is the new content (an object is sent as JSON). `onProgress({stage})` sees `account`,
 * `prev`, `sign` (the wallet is showing the fields), `send` and `done`. `timeoutMs` (default
 * 60 000) is how long the node may stay silent on a request (`FETCH_FAILED`, `reason: "TIMEOUT"`);
 * the wallet may take as long as the user does.
 *
 * @example
 * const { cid, transactionHash } = await publishMetadata({
 *   gateway: "http://127.0.0.1:3030", signer: walletSigner(window.ethereum),
 *   chainId: "80001", tokenAddress: "0x…", tokenId: "1", metaContractId: "open",
 *   version: "v1", data: { name: "Ada" },
 * });
 *
 * @returns `{cid, transactionHash, request, receipt}`: the new head's CID, the transaction.
 * @throws `USER_REJECTED` (the user declined in the wallet), `WALLET_*`, `SIGNATURE_INVALID`,
 *   `PUBLISH_REJECTED` (`reason`: the node's code, e.g. `stale_prev`, `clock_skew`, or
 *   `contract_rejected` with the failed `receipt`),
 *   `FETCH_FAILED`, `BAD_ARGUMENT`.
 */
export async function publishMetadata(tx) {
  const { gateway, signer, chainId, tokenAddress, tokenId, metaContractId, alias = "", version, mcdata = "", method = "metadata", onProgress, timeoutMs = FETCH_TIMEOUT_MS } = tx ?? {};
  const base = gatewayBase(gateway);
  if (typeof signer?.sign !== "function" || typeof signer?.publicKey !== "function") {
    throw codedError("BAD_ARGUMENT", "signer must be walletSigner(provider) or keyPairSigner(keyPair)");
  }
  for (const [name, v] of Object.entries({ chainId, tokenAddress, tokenId, metaContractId, alias, version, mcdata, method })) {
    if (typeof v !== "string") throw codedError("BAD_ARGUMENT", `${name} must be a string`);
  }
  checkLimit("timeoutMs", timeoutMs, MAX_TIMEOUT_MS);
  const data = typeof tx.data === "string" ? tx.data : JSON.stringify(tx.data);
  if (typeof data !== "string") throw codedError("BAD_ARGUMENT", "data must be a string or a JSON value");
  const progress = (stage, extra) => {
    try {
      onProgress?.({ stage, ...extra });
    } catch {
      // A throwing progress callback does not stop publishing.
    }
  };
  const glue = await loadMarine();
  progress("account");
  const publicKey = await signer.publicKey();
  let prev = tx.prev;
  if (prev === undefined) {
    progress("prev");
    prev = (await recordHead(base, glue.dataKey(chainId, tokenAddress, tokenId), { metaContractId, publicKey: canonicalKey(publicKey), alias, version }, { timeoutMs })) ?? "";
  } else if (typeof prev !== "string") {
    throw codedError("BAD_ARGUMENT", "prev must be a CID string (\"\" for a new record)");
  }
  const request = {
    method,
    meta_contract_id: metaContractId,
    chain_id: chainId,
    token_address: tokenAddress,
    token_id: tokenId,
    alias,
    version,
    mcdata,
    data,
    prev,
    timestamp: tx.timestamp ?? Date.now(),
    public_key: publicKey,
    signature: "",
  };
  progress("sign", { prev });
  const signed = await signer.sign(request);
  if (canonicalKey(signed.public_key) !== canonicalKey(publicKey)) {
    throw codedError("SIGNATURE_INVALID", `the signer switched keys while signing (${publicKey} → ${signed.public_key}); nothing was sent`);
  }
  glue.checkSignature(JSON.stringify(signed), Boolean(signer.legacy));
  progress("send");
  const reply = await rpc(base, "publish", [signed], { timeoutMs });
  if (reply.error) throw codedError("PUBLISH_REJECTED", `${base} refused the transaction: ${reply.error.message}`, { reason: reply.error.data?.code, request: signed });
  const { success, err_msg: errMsg, transaction_hash: transactionHash, receipt } = reply.result ?? {};
  if (!success) {
    // Signed and valid, but its meta contract refused it: the node files a failed receipt.
    throw codedError("PUBLISH_REJECTED", `the meta contract refused the transaction: ${errMsg}`, { reason: "contract_rejected", receipt, transactionHash, request: signed });
  }
  let cid;
  try {
    cid = JSON.parse(receipt.data).cids?.[0];
  } catch {
    cid = undefined;
  }
  progress("done", { cid, transactionHash });
  return { cid, transactionHash, request: signed, receipt };
}

