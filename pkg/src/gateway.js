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

/** The most a CAR or module fetched for verification may hold unless `maxBytes` says otherwise. */
export const MAX_FETCH_BYTES = 64 * 1024 * 1024;
/** The most a JSON-RPC reply may hold (a record lookup's or a publish's answer is tiny). */
const MAX_RPC_BYTES = 4 * 1024 * 1024;
/** How many bytes between two `onBytes` calls of {@link fetchBytes}. */
const PROGRESS_BYTES = 64 * 1024;

/**
 * GETs `url` (as {@link fetchOk}) and reads its body, at most `maxBytes` of it: a larger
 * `content-length`, or a body that grows past it, is a `FETCH_FAILED` with `reason: "TOO_LARGE"`
 * (the download is cancelled: a gateway cannot make the page hold more). `onBytes(bytes,
 * totalBytes?)` is called every 64 KiB and once at the end; `totalBytes` is the declared length,
 * left out once the body turns out longer (a compressed reply) or, at the end, shorter.
 */
export async function fetchBytes(url, { maxBytes = MAX_FETCH_BYTES, onBytes, init } = {}) {
  return readBody(url, await fetchOk(url, init), maxBytes, onBytes);
}

async function readBody(url, res, maxBytes, onBytes) {
  const tooLarge = (what) => codedError("FETCH_FAILED", `${url}: ${what}, more than the ${maxBytes} bytes allowed`, { reason: "TOO_LARGE" });
  const length = res.headers.get("content-length");
  const declared = length !== null && /^\d+$/.test(length.trim()) ? Number(length) : undefined;
  if (declared !== undefined && declared > maxBytes) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(`the reply declares ${declared} bytes`);
  }
  // The declared length is given as `totalBytes` while the body keeps to it (a compressed reply
  // declares fewer bytes than it decodes to).
  let total = declared;
  const report = (bytes) => {
    if (total !== undefined && bytes > total) total = undefined;
    try {
      onBytes?.(bytes, total);
    } catch {
      // A throwing progress callback does not stop the download.
    }
  };
  const chunks = [];
  let bytes = 0;
  let reported = -1;
  try {
    if (!res.body) {
      const all = new Uint8Array(await res.arrayBuffer());
      if (all.byteLength > maxBytes) throw tooLarge(`the reply holds ${all.byteLength} bytes`);
      report(all.byteLength);
      return all;
    }
    const reader = res.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      if (bytes > maxBytes) {
        await reader.cancel().catch(() => {});
        throw tooLarge(`the reply went on past ${bytes} bytes`);
      }
      chunks.push(value);
      if (bytes - Math.max(reported, 0) >= PROGRESS_BYTES) {
        reported = bytes;
        report(bytes);
      }
    }
  } catch (err) {
    if (err?.code) throw err;
    const why = err?.name === "TimeoutError" ? `no answer within ${FETCH_TIMEOUT_MS} ms` : errorText(err);
    throw codedError("FETCH_FAILED", `${url}: reading the reply: ${why}`);
  }
  if (bytes !== total) total = undefined; // the declared length was not the body's
  if (bytes !== reported) report(bytes); // the end, unless the last chunk was just reported
  if (chunks.length === 1) return chunks[0];
  const all = new Uint8Array(bytes);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.byteLength;
  }
  return all;
}

/**
 * One JSON-RPC call to `base`'s `/api/v0/json-rpc`; resolves to the whole reply
 * (`{result}` or `{error}`), so callers can tell "not found" from a failure.
 */
export async function rpc(base, method, params) {
  const id = nextId++;
  const url = `${base}/api/v0/json-rpc`;
  const body = await fetchBytes(url, {
    maxBytes: MAX_RPC_BYTES,
    init: { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id, method, params }) },
  });
  let reply;
  try {
    reply = JSON.parse(new TextDecoder().decode(body));
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
