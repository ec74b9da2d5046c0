// Errors thrown by this package: plain `Error`s with a stable string `code`, so callers can branch
// on `err.code` while the `message` keeps js-client's wording where js-client has one.

/** Creates an `Error` with `code` (and any extra own properties in `extra`). */
export function codedError(code, message, extra) {
  const err = new Error(message);
  err.code = code;
  if (extra) Object.assign(err, extra);
  return err;
}

/**
 * `undefined`, or `signal` when it is an `AbortSignal` (duck-typed: signals from another realm,
 * e.g. an iframe's, work too); `BAD_ARGUMENT` for anything else.
 */
export function checkSignal(signal) {
  if (signal === undefined) return undefined;
  if (typeof signal?.aborted !== "boolean" || typeof signal?.addEventListener !== "function") {
    throw codedError("BAD_ARGUMENT", "signal must be an AbortSignal");
  }
  return signal;
}

/** Throws `ABORTED` (with the signal's `reason` as `cause`) if `signal` is aborted. */
export function throwIfAborted(signal, what) {
  if (signal?.aborted) throw abortedError(signal, what);
}

/** The `ABORTED` error for `signal`. */
export function abortedError(signal, what) {
  return codedError("ABORTED", `${what} aborted${signal.reason === undefined ? "" : `: ${errorText(signal.reason)}`}`, { cause: signal.reason });
}

/** js-client's `getErrorMessage`: an Error's message, anything else as a string. */
export function errorText(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The rejection of a script that called `errorHandlingSrv.error`.
 *
 * js-client rejects with the raw value (for compiled Aqua: the `:error:` object
 * `{error_code, instruction, message, peer_id}`). We reject with an `Error` that carries the same
 * enumerable fields in the same order, so `e.message`, `e.error_code`, `e.instruction`, `e.peer_id`
 * and `JSON.stringify(e)` read as they do with js-client; `code` ("SCRIPT_ERROR") and `value`
 * (the raw value) are non-enumerable. A non-object value becomes the message.
 */
export function scriptError(value) {
  const err = new Error();
  const isRecord = typeof value === "object" && value !== null && !Array.isArray(value);
  if (isRecord) {
    for (const [key, v] of Object.entries(value)) {
      if (key === "code" || key === "value" || key === "stack" || key === "name") continue;
      Object.defineProperty(err, key, { value: v, enumerable: true, writable: true, configurable: true });
    }
  }
  if (!isRecord || typeof value.message !== "string") {
    const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
    Object.defineProperty(err, "message", { value: text, writable: true, configurable: true });
  }
  Object.defineProperty(err, "code", { value: "SCRIPT_ERROR", writable: true, configurable: true });
  Object.defineProperty(err, "value", { value, writable: true, configurable: true });
  return err;
}

/** Maps a rejection of `WasmPeer.call` to what callers see (`SCRIPT_ERROR` gets js-client's shape). */
export function callRejection(err) {
  if (err && err.code === "SCRIPT_ERROR" && "value" in err) return scriptError(err.value);
  return err;
}
