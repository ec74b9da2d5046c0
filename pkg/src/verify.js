// Verifying Lineage metadata in the page: trust nothing the node serves. The checks run in the
// Marine-runtime wasm (lineage_marine, loaded on first use): meta contracts are Marine services,
// and replaying one needs the interpreter.

import { checkSignal, codedError, errorText, throwIfAborted } from "./errors.js";
import { canonicalKey, checkLimit, FETCH_TIMEOUT_MS, fetchBytes, gatewayBase, MAX_FETCH_BYTES, MAX_TIMEOUT_MS, recordHead } from "./gateway.js";
import { loadMarine } from "./wasm.js";

/**
 * Verifies a record's history ending at `head` from `blocks` — the record's dag-cbor blocks and
 * its meta contract's module, keyed by CID string (a `Map`, a plain object, or `[cid, bytes]`
 * pairs, e.g. a CAR's entries) — and returns the report, newest version first.
 *
 * Every block must hash to its CID, every transaction to its hash with a valid signature, the
 * links must form one record's history, and (unless `options.replay === false`) each version's
 * meta contract, rerun deterministically on the inputs its block records, must write exactly
 * that version's content.
 *
 * @example
 * const report = await verifyHistory(headCid, blocks);
 * console.log(report.versions[0].content); // the verified newest content
 *
 * `options.onProgress({phase, done, total?})` is called every 100 versions and at the end of each
 * phase, `check` (hashes, signatures, links; `total` once known) then `replay`. Both run in
 * slices of about 25 ms and yield to the event loop after each slice and each progress call, so
 * a page stays responsive and can paint the progress it was given.
 *
 * `options.signal` (an `AbortSignal`) stops the verification at the next slice: `ABORTED`.
 *
 * @throws an `Error` with `code` `HISTORY_INVALID` or `REPLAY_FAILED` and the first bad
 *   version's `index` (0 = newest) and `cid`; `ABORTED`; `BAD_ARGUMENT` for malformed arguments.
 */
export async function verifyHistory(head, blocks, options = {}) {
  if (typeof head !== "string" && typeof head?.toString !== "function") {
    throw codedError("BAD_ARGUMENT", "head must be a CID or its string");
  }
  const map = new Map();
  const entries = blocks instanceof Map ? blocks.entries() : Symbol.iterator in Object(blocks) ? blocks : Object.entries(blocks ?? {});
  for (const [cid, bytes] of entries) {
    if (!(bytes instanceof Uint8Array)) throw codedError("BAD_ARGUMENT", `block ${cid} is not a Uint8Array`);
    map.set(String(cid), bytes);
  }
  const { onProgress, signal: signalOption, ...rest } = options ?? {};
  const signal = checkSignal(signalOption);
  throwIfAborted(signal, "verification");
  const glue = await loadMarine();
  const report = typeof onProgress === "function" ? (p) => safely(onProgress, p) : () => {};
  const yieldNow = async () => {
    await yieldToEventLoop();
    throwIfAborted(signal, "verification");
  };
  let verifier;
  try {
    throwIfAborted(signal, "verification");
    verifier = new glue.HistoryVerifier(String(head), map, rest);
    // Check (hashes, signatures, links) then replay, a version per wasm call.
    await inSlices(
      () => verifier.check(1),
      () => verifier.checkDone,
      (checked) => {
        if (verifier.checkDone) report({ phase: "check", done: checked, total: checked });
        else if (checked % PROGRESS_EVERY === 0) report({ phase: "check", done: checked });
        else return false;
        return true;
      },
      yieldNow,
    );
    const total = verifier.total;
    await inSlices(
      () => verifier.replay(1),
      () => verifier.replayed >= total,
      (done) => {
        if (done % PROGRESS_EVERY !== 0 && done !== total) return false;
        report({ phase: "replay", done, total });
        return true;
      },
      yieldNow,
    );
    return JSON.parse(verifier.report());
  } catch (err) {
    if (typeof err?.code === "string") throw err;
    throw codedError("VERIFY_FAILED", errorText(err));
  } finally {
    try {
      verifier?.free();
    } catch {
      // After a trap inside the wasm the object cannot be freed; the error above is what matters.
    }
  }
}

/** Progress is reported every this many versions in each phase (as the wasm's verifyHistory does). */
const PROGRESS_EVERY = 100;
/** How long the check or the replay runs before it yields to the event loop. */
const SLICE_MS = 25;

/**
 * Calls `step()` until `finished()`, yielding (`yieldNow`) every SLICE_MS and right after each
 * step whose result `reported(result)` says was reported, so a page can paint what it was told.
 */
async function inSlices(step, finished, reported, yieldNow) {
  while (!finished()) {
    const sliceEnd = performance.now() + SLICE_MS;
    while (!finished() && performance.now() < sliceEnd) {
      if (reported(step())) break;
    }
    await yieldNow();
  }
}

/**
 * Resolves in a new macrotask: Node's `setImmediate`; elsewhere a `MessageChannel` message (not
 * clamped like nested `setTimeout(0)`, and a page renders between such tasks when a frame is due).
 */
function yieldToEventLoop() {
  if (typeof setImmediate === "function") return new Promise((resolve) => setImmediate(resolve));
  if (typeof MessageChannel === "function") {
    return new Promise((resolve) => {
      const { port1, port2 } = new MessageChannel();
      port1.onmessage = () => {
        port1.close();
        resolve();
      };
      port2.postMessage(null);
    });
  }
  return new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Looks up a record on a Lineage node's gateway and verifies it: asks the node (JSON-RPC
 * `get_metadata`) for the record's head, fetches its whole history as one CAR
 * (`/ipfs/<head>?format=car`) and its meta contract's modules (`/ipfs/<cid>?format=raw`), then
 * runs {@link verifyHistory} on them locally, and checks the verified head is the record that
 * was asked for (token, meta contract, publisher, alias, version) — so a node can name no other
 * record's head, and forge or alter nothing; it can still withhold versions newer than the head
 * it names.
 *
 * `record`: `{gateway, chainId, tokenAddress, tokenId, metaContractId, publicKey, alias?, version,
 * onProgress?, replay?, maxBytes?}`; `onProgress({stage, ...})` sees `lookup`, `fetch-history`
 * (first `{head}`, then `{head, bytes, totalBytes?}` every 64 KiB downloaded and at the end),
 * `fetch-modules`, `verify` (first `{blocks}`, then `{blocks, phase, done, total}` as
 * {@link verifyHistory} reports) and `done`. `maxBytes` (a positive safe integer, default 64 MiB)
 * caps the CAR and each module: a gateway sending more gets `FETCH_FAILED` with
 * `reason: "TOO_LARGE"`. `timeoutMs` (default 60 000) is how long the gateway may stay silent —
 * before a reply, or between two chunks of one — before it is `FETCH_FAILED`, `reason: "TIMEOUT"`.
 * `signal` (an `AbortSignal`) cancels the lookup, the downloads or the verification: `ABORTED`.
 *
 * @example
 * const { content, versions } = await verifyMetadata({
 *   gateway: "http://127.0.0.1:3030", chainId: "80001", tokenAddress: "0x…", tokenId: "1",
 *   metaContractId: "open", publicKey: "…", version: "v1",
 * });
 *
 * @returns `{cid, content, versions}` (the verified head, its content, the full report).
 * @throws `NOT_FOUND` (no such record), `FETCH_FAILED` (HTTP, network, `reason` TIMEOUT or
 *   TOO_LARGE), `ABORTED`, and as verifyHistory.
 */
export async function verifyMetadata(record) {
  const { gateway, chainId, tokenAddress, tokenId, metaContractId, publicKey, alias = "", version, onProgress, replay = true, maxBytes = MAX_FETCH_BYTES, timeoutMs = FETCH_TIMEOUT_MS, signal } = record ?? {};
  checkLimit("maxBytes", maxBytes, Number.MAX_SAFE_INTEGER);
  checkLimit("timeoutMs", timeoutMs, MAX_TIMEOUT_MS);
  checkSignal(signal);
  throwIfAborted(signal, "verification");
  for (const [name, v] of Object.entries({ gateway, chainId, tokenAddress, tokenId, metaContractId, publicKey, version })) {
    if (typeof v !== "string") throw codedError("BAD_ARGUMENT", `${name} must be a string`);
  }
  const progress = (stage, extra) => {
    try {
      onProgress?.({ stage, ...extra });
    } catch {
      // A throwing progress callback does not stop verification.
    }
  };
  const base = gatewayBase(gateway);
  const glue = await loadMarine();
  progress("lookup");
  const dataKey = glue.dataKey(chainId, tokenAddress, tokenId);
  const head = await recordHead(base, dataKey, { metaContractId, publicKey, alias, version }, { timeoutMs, signal });
  if (!head) throw codedError("NOT_FOUND", `${base} has no record ${chainId}/${tokenAddress}/${tokenId} (${metaContractId}, ${publicKey}, alias ${JSON.stringify(alias)}, ${version})`);
  progress("fetch-history", { head });
  const car = await fetchBytes(`${base}/ipfs/${head}?format=car`, {
    maxBytes,
    timeoutMs,
    signal,
    onBytes: (bytes, totalBytes) => progress("fetch-history", { head, bytes, totalBytes }),
  });
  const blocks = new Map(glue.carBlocks(car));
  const modules = glue.contractModules(blocks);
  progress("fetch-modules", { versions: blocks.size, modules: modules.length });
  for (const cid of modules) {
    blocks.set(cid, await fetchBytes(`${base}/ipfs/${cid}?format=raw`, { maxBytes, timeoutMs, signal }));
  }
  progress("verify", { blocks: blocks.size });
  const report = await verifyHistory(head, blocks, { replay, signal, onProgress: (p) => progress("verify", { blocks: blocks.size, ...p }) });
  // The history is genuine; is it the one asked for? A gateway could name the head of another
  // validly signed record (another publisher's, another token's).
  const got = report.versions[0]?.record ?? {};
  const want = { data_key: dataKey, meta_contract_id: metaContractId, public_key: canonicalKey(publicKey), alias, version };
  const wrong = Object.keys(want).filter((k) => got[k] !== want[k]);
  if (wrong.length > 0) {
    throw codedError("HISTORY_INVALID", `the head ${head} the gateway named is another record's: its ${wrong.map((k) => `${k} is ${JSON.stringify(got[k])}, not ${JSON.stringify(want[k])}`).join("; ")}`, { index: 0, cid: head });
  }
  progress("done", { versions: report.versions.length });
  return { cid: head, content: report.versions[0]?.content, versions: report.versions };
}


function safely(fn, arg) {
  try {
    fn(arg);
  } catch {
    // A throwing progress callback does not stop verification.
  }
}
