// Verifying Lineage metadata in the page: trust nothing the node serves. The checks run in the
// Marine-runtime wasm (lineage_marine, loaded on first use): meta contracts are Marine services,
// and replaying one needs the interpreter.

import { codedError, errorText } from "./errors.js";
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
 * @throws an `Error` with `code` `HISTORY_INVALID` or `REPLAY_FAILED` and the first bad
 *   version's `index` (0 = newest) and `cid`; `BAD_ARGUMENT` for malformed arguments.
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
  const glue = await loadMarine();
  let json;
  try {
    json = glue.verifyHistory(String(head), map, options ?? {});
  } catch (err) {
    if (err?.code) throw err;
    throw codedError("VERIFY_FAILED", errorText(err));
  }
  return JSON.parse(json);
}
