// A Lineage node's HTTP gateway: its JSON-RPC endpoint and its blocks, over `fetch` (which pages,
// Web Workers, MV3 service workers and Node all have).

import { codedError, errorText } from "./errors.js";

let nextId = 1;

/** `gateway` without trailing slashes; `BAD_ARGUMENT` unless it is an http(s) URL. */
export function gatewayBase(gateway) {
  if (typeof gateway !== "string" || !/^https?:\/\//i.test(gateway)) {
    throw codedError("BAD_ARGUMENT", `gateway must be an http(s) URL, not ${JSON.stringify(gateway)}`);
  }
  return gateway.replace(/\/+$/, "");
}

/** How long one request to a gateway may take before it is a `FETCH_FAILED`. */
export const FETCH_TIMEOUT_MS = 60_000;

/**
 * `fetch`, with a network failure, a non-2xx reply or no answer within `FETCH_TIMEOUT_MS` as a
 * `FETCH_FAILED` error naming the URL.
 */
export async function fetchOk(url, init) {
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(FETCH_TIMEOUT_MS), ...init });
  } catch (err) {
    const why = err?.name === "TimeoutError" ? `no answer within ${FETCH_TIMEOUT_MS} ms` : errorText(err);
    throw codedError("FETCH_FAILED", `${url}: ${why}`);
  }
  if (!res.ok) throw codedError("FETCH_FAILED", `${url}: HTTP ${res.status} ${await res.text().catch(() => "")}`.trim());
  return res;
}

/**
 * One JSON-RPC call to `base`'s `/api/v0/json-rpc`; resolves to the whole reply
 * (`{result}` or `{error}`), so callers can tell "not found" from a failure.
 */
export async function rpc(base, method, params) {
  const id = nextId++;
  const res = await fetchOk(`${base}/api/v0/json-rpc`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id, method, params }),
  });
  let reply;
  try {
    reply = await res.json();
  } catch (err) {
    throw codedError("FETCH_FAILED", `${base}: ${method}: the reply is not JSON: ${errorText(err)}`);
  }
  if (reply?.id !== id) throw codedError("FETCH_FAILED", `${base}: ${method}: the reply's id ${reply?.id} is not ${id}`);
  return reply;
}

/**
 * The head CID the node names for a record, or null when it has none. A JSON-RPC error (bad
 * parameters, a failing store) is not "none": it is a `FETCH_FAILED` with the node's message and
 * `reason` (its `error.data.code`).
 */
export async function recordHead(base, dataKey, { metaContractId, publicKey, alias, version }) {
  const reply = await rpc(base, "get_metadata", [dataKey, metaContractId, publicKey, alias, version]);
  if (reply?.error) {
    throw codedError("FETCH_FAILED", `${base}: get_metadata: ${reply.error.message}`, { reason: reply.error.data?.code });
  }
  return reply?.result?.metadata?.cid || null;
}

/** An EVM address lower-cased (how the node files records and keys), other keys as they are. */
export function canonicalKey(key) {
  return /^0x/i.test(key) ? key.toLowerCase() : key;
}
