// A Lineage node's HTTP gateway: its JSON-RPC endpoint and its blocks, over `fetch` (which pages,
// Web Workers, MV3 service workers and Node all have).

import { abortedError, codedError, errorText, throwIfAborted } from "./errors.js";

let nextId = 1;

/** `gateway` without trailing slashes; `BAD_ARGUMENT` unless it is an http(s) URL. */
export function gatewayBase(gateway) {
  if (typeof gateway !== "string" || !/^https?:\/\//i.test(gateway)) {
    throw codedError("BAD_ARGUMENT", `gateway must be an http(s) URL, not ${JSON.stringify(gateway)}`);
  }
  return gateway.replace(/\/+$/, "");
}

/**
 * How long a gateway may stay silent — before its reply starts, or between two chunks of its body
 * — before the request is a `FETCH_FAILED` with `reason: "TIMEOUT"`. An idle limit, not a total
 * one: a long history over a slow link downloads as long as bytes keep coming.
 */
export const FETCH_TIMEOUT_MS = 60_000;
/** The longest `timeoutMs` a timer can wait. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

/** `BAD_ARGUMENT` unless option `name`'s `value` is an integer from 1 to `max`. */
export function checkLimit(name, value, max) {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    throw codedError("BAD_ARGUMENT", `${name} must be an integer from 1 to ${max}, not ${JSON.stringify(value)}`);
  }
}

/** The most a CAR or module fetched for verification may hold unless `maxBytes` says otherwise. */
export const MAX_FETCH_BYTES = 64 * 1024 * 1024;
/** The most a JSON-RPC reply may hold (a record lookup's or a publish's answer is tiny). */
const MAX_RPC_BYTES = 4 * 1024 * 1024;
/** How much of an error reply's body goes into the error's message. */
const MAX_ERROR_TEXT = 4096;
/** How many bytes between two `onBytes` calls of {@link fetchBytes}. */
const PROGRESS_BYTES = 64 * 1024;

/**
 * Fetches `url` (`init` as `fetch` takes it) and reads its body, at most `maxBytes` of it. Every
 * failure is a `FETCH_FAILED` naming the URL: the network, a non-2xx reply (`status`, and the
 * start of its body in the message), no byte for `timeoutMs` (`reason: "TIMEOUT"`), or a larger
 * `content-length` or a body growing past `maxBytes` (`reason: "TOO_LARGE"`; the download is
 * cancelled: a gateway cannot make the page hold more). `onBytes(bytes, totalBytes?)` is called
 * every 64 KiB and once at the end; `totalBytes` is the declared length, left out once the body
 * does not keep to it (a compressed reply decodes to more). An abort of `signal` cancels the
 * request: `ABORTED`.
 */
export async function fetchBytes(url, { maxBytes = MAX_FETCH_BYTES, onBytes, init, timeoutMs = FETCH_TIMEOUT_MS, signal } = {}) {
  throwIfAborted(signal, `fetching ${url}`);
  const controller = new AbortController();
  const onAbort = () => controller.abort();
  signal?.addEventListener("abort", onAbort);
  let timedOut = false;
  let timer;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
  };
  const failed = (what, err) =>
    typeof err?.code === "string" ? err
    : signal?.aborted ? abortedError(signal, `fetching ${url}`)
    : timedOut ? codedError("FETCH_FAILED", `${url}: ${what}no answer within ${timeoutMs} ms`, { reason: "TIMEOUT" })
    : codedError("FETCH_FAILED", `${url}: ${what}${errorText(err)}`);
  arm();
  try {
    let res;
    try {
      res = await fetch(url, { ...init, signal: controller.signal });
    } catch (err) {
      throw failed("", err);
    }
    if (!res.ok) {
      const start = await readBody(url, res, { maxBytes: MAX_ERROR_TEXT, truncate: true, arm }).catch(() => new Uint8Array());
      throwIfAborted(signal, `fetching ${url}`); // aborted while its error page was read
      throw codedError("FETCH_FAILED", `${url}: HTTP ${res.status} ${new TextDecoder().decode(start)}`.trim(), { status: res.status });
    }
    try {
      return await readBody(url, res, { maxBytes, onBytes, arm });
    } catch (err) {
      throw failed("reading the reply: ", err);
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Reads `res`'s body: at most `maxBytes` (more is TOO_LARGE, or with `truncate` the first
 * `maxBytes` and the rest cancelled); `arm()` after each chunk (the idle timer).
 */
async function readBody(url, res, { maxBytes, onBytes, arm, truncate = false }) {
  const tooLarge = (what) => codedError("FETCH_FAILED", `${url}: ${what}, more than the ${maxBytes} bytes allowed`, { reason: "TOO_LARGE" });
  const length = res.headers.get("content-length");
  const declared = length !== null && /^\d+$/.test(length.trim()) ? Number(length) : undefined;
  if (declared !== undefined && declared > maxBytes && !truncate) {
    await res.body?.cancel().catch(() => {});
    throw tooLarge(`the reply declares ${declared} bytes`);
  }
  // The declared length is given as `totalBytes` while the body keeps to it.
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
  if (!res.body) {
    const all = new Uint8Array(await res.arrayBuffer());
    if (all.byteLength > maxBytes) {
      if (!truncate) throw tooLarge(`the reply holds ${all.byteLength} bytes`);
      return all.subarray(0, maxBytes);
    }
    report(all.byteLength);
    return all;
  }
  const reader = res.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    arm();
    if (bytes + value.byteLength > maxBytes) {
      await reader.cancel().catch(() => {});
      if (!truncate) throw tooLarge(`the reply went on past ${bytes + value.byteLength} bytes`);
      chunks.push(value.subarray(0, maxBytes - bytes));
      bytes = maxBytes;
      break;
    }
    bytes += value.byteLength;
    chunks.push(value);
    if (bytes - Math.max(reported, 0) >= PROGRESS_BYTES) {
      reported = bytes;
      report(bytes);
    }
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
export async function rpc(base, method, params, { timeoutMs, signal } = {}) {
  const id = nextId++;
  const url = `${base}/api/v0/json-rpc`;
  const body = await fetchBytes(url, {
    maxBytes: MAX_RPC_BYTES,
    timeoutMs,
    signal,
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
export async function recordHead(base, dataKey, { metaContractId, publicKey, alias, version }, { timeoutMs, signal } = {}) {
  const reply = await rpc(base, "get_metadata", [dataKey, metaContractId, publicKey, alias, version], { timeoutMs, signal });
  if (reply?.error) {
    throw codedError("FETCH_FAILED", `${base}: get_metadata: ${reply.error.message}`, { reason: reply.error.data?.code });
  }
  return reply?.result?.metadata?.cid || null;
}

/** An EVM address lower-cased (how the node files records and keys), other keys as they are. */
export function canonicalKey(key) {
  return /^0x/i.test(key) ? key.toLowerCase() : key;
}
