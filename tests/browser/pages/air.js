// Hand-written AIR shared by the test pages, the worker and the Node side of the browser tests.
// The shape is what aqua-compiled code sends: `-relay-` comes from `getDataSrv`, the answer goes
// to `callbackSrv.response`, any error to `errorHandlingSrv.error` (notes/jsclient.md §1.4).

/** `peer.identify` on the relay → the relay's Info. */
export const IDENTIFY = `
(xor
 (seq
  (seq
   (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
   (call -relay- ("peer" "identify") [] r))
  (call %init_peer_id% ("callbackSrv" "response") [r]))
 (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))
`;

/** `math.add(x, y)` on the relay; `x`, `y` come from the call's args (getDataSrv). */
export const ADD = `
(xor
 (seq
  (seq
   (seq
    (seq
     (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
     (call %init_peer_id% ("getDataSrv" "x") [] x))
    (call %init_peer_id% ("getDataSrv" "y") [] y))
   (call -relay- ("math" "add") [x y] r))
  (call %init_peer_id% ("callbackSrv" "response") [r]))
 (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))
`;

/** `peer.timeout(ms, msg)` on the relay: answers `msg` after `ms`. */
export const TIMEOUT = `
(xor
 (seq
  (seq
   (seq
    (seq
     (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
     (call %init_peer_id% ("getDataSrv" "ms") [] ms))
    (call %init_peer_id% ("getDataSrv" "msg") [] msg))
   (call -relay- ("peer" "timeout") [ms msg] r))
  (call %init_peer_id% ("callbackSrv" "response") [r]))
 (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))
`;

/** `peer.timestamp_ms` on the relay. */
export const TIMESTAMP = `
(xor
 (seq
  (seq
   (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
   (call -relay- ("peer" "timestamp_ms") [] r))
  (call %init_peer_id% ("callbackSrv" "response") [r]))
 (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))
`;

/**
 * The hostile particle (sent by another peer): via the relay to `target`, where it calls the
 * reserved response/error services of `target` with `value`, then reports back to its sender
 * which of the two calls `target` accepted.
 */
export const HOSTILE = `
(xor
 (seq
  (seq
   (seq
    (seq
     (call %init_peer_id% ("getDataSrv" "-relay-") [] -relay-)
     (call %init_peer_id% ("getDataSrv" "target") [] target))
    (call %init_peer_id% ("getDataSrv" "value") [] value))
   (call -relay- ("op" "noop") []))
  (new $log
   (seq
    (seq
     (seq
      (xor
       (seq (call target ("callbackSrv" "response") [value]) (ap "response accepted" $log))
       (ap "response rejected" $log))
      (xor
       (seq (call target ("errorHandlingSrv" "error") [value 0]) (ap "error accepted" $log))
       (ap "error rejected" $log)))
     (canon target $log #log))
    (seq
     (call -relay- ("op" "noop") [])
     (call %init_peer_id% ("callbackSrv" "response") [#log])))))
 (call %init_peer_id% ("errorHandlingSrv" "error") [%last_error% 0]))
`;
