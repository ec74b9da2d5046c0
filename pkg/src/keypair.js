// Ed25519 key pairs, as js-client's KeyPair. Keys live in JS as the 32-byte seed; deriving the
// peer id, signing and verifying happen in the wasm module (loaded on first use).

import { codedError } from "./errors.js";
import { loadWasm, loadedWasm } from "./wasm.js";

const CONSTRUCT = Symbol("KeyPair.construct");

export class KeyPair {
  #seed;
  #peerId;
  #publicKey;

  /** Not public: use `KeyPair.fromEd25519SK`, `KeyPair.randomEd25519` or `fromOpts`. */
  constructor(token, seed, peerId, publicKey) {
    if (token !== CONSTRUCT) throw codedError("BAD_ARGUMENT", "KeyPair has no public constructor; use KeyPair.fromEd25519SK");
    this.#seed = seed;
    this.#peerId = peerId;
    this.#publicKey = publicKey;
  }

  /** A key pair from a 32-byte Ed25519 secret key (seed). */
  static async fromEd25519SK(seed) {
    checkSeed(seed);
    const wasm = await loadWasm();
    const own = Uint8Array.from(seed);
    const { peerId, publicKey } = wasm.keypair_from_seed(own);
    return new KeyPair(CONSTRUCT, own, peerId, Uint8Array.from(publicKey));
  }

  /** A key pair with a random secret key. */
  static async randomEd25519() {
    const wasm = await loadWasm();
    return KeyPair.fromEd25519SK(wasm.random_seed());
  }

  /**
   * Verifies `signature` over `message` with a libp2p-protobuf public key (`08 01 12 20 ‖ 32 B`).
   * Returns a boolean once the wasm module is loaded (as js-client does), a Promise before that.
   */
  static verifyWithPublicKey(publicKey, message, signature) {
    const wasm = loadedWasm();
    if (wasm) return wasm.verify_signature(publicKey, message, signature);
    return loadWasm().then((w) => w.verify_signature(publicKey, message, signature));
  }

  /** Base58 libp2p peer id (`12D3KooW…`). */
  getPeerId() {
    return this.#peerId;
  }

  /** The public key, libp2p-protobuf encoded (36 bytes). */
  getPublicKey() {
    return Uint8Array.from(this.#publicKey);
  }

  /** The 32-byte Ed25519 secret key (seed). */
  toEd25519PrivateKey() {
    return Uint8Array.from(this.#seed);
  }

  /** js-client returns a libp2p `PeerId` object; this package has no libp2p JS objects. */
  getLibp2pPeerId() {
    throw codedError("UNSUPPORTED", "getLibp2pPeerId is not available in @lineage-edge/js-client; use getPeerId()");
  }

  /** A 64-byte Ed25519 signature of `data`. */
  async signBytes(data) {
    return (await loadWasm()).sign_bytes(this.#seed, data);
  }

  /** True when `signature` is this key's signature of `data`. */
  async verify(data, signature) {
    return (await loadWasm()).verify_signature(this.#publicKey, data, signature);
  }
}

/** A key pair from a base64 (standard or URL-safe) 32-byte secret key. */
export const fromBase64Sk = async (sk) => KeyPair.fromEd25519SK(decodeBase64(sk));

/** A key pair from a base58 32-byte secret key. */
export const fromBase58Sk = async (sk) => KeyPair.fromEd25519SK(decodeBase58(sk));

/** A key pair from `{type: "Ed25519", source: "random" | Uint8Array}`. */
export const fromOpts = (opts) => (opts.source === "random" ? KeyPair.randomEd25519() : KeyPair.fromEd25519SK(opts.source));

/** Throws BAD_KEY (js-client's messages, from @libp2p/crypto) unless `seed` is 32 bytes. */
export function checkSeed(seed) {
  if (seed?.length !== 32) throw codedError("BAD_KEY", '"seed" must be 32 bytes in length.');
  if (!(seed instanceof Uint8Array)) throw codedError("BAD_KEY", '"seed" must be a node.js Buffer, or Uint8Array.');
}

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// Lenient like js-base64 (used by js-client): URL-safe letters map to standard ones, other
// characters (padding, whitespace) are skipped.
export function decodeBase64(text) {
  const digits = String(text).replace(/-/g, "+").replace(/_/g, "/").replace(/[^A-Za-z0-9+/]/g, "");
  const out = new Uint8Array(Math.floor((digits.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let n = 0;
  for (const ch of digits) {
    acc = (acc << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return out.subarray(0, n);
}

const B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

// Bitcoin-alphabet base58, leading '1's are zero bytes; bs58's message on a bad character.
export function decodeBase58(text) {
  const bytes = []; // little-endian big number
  let zeros = 0;
  let leading = true;
  for (const ch of String(text)) {
    let carry = B58.indexOf(ch);
    if (carry < 0) throw codedError("BAD_KEY", "Non-base58 character");
    if (leading && carry === 0) {
      zeros++;
      continue;
    }
    leading = false;
    for (let i = 0; i < bytes.length; i++) {
      carry += bytes[i] * 58;
      bytes[i] = carry & 0xff;
      carry >>= 8;
    }
    while (carry > 0) {
      bytes.push(carry & 0xff);
      carry >>= 8;
    }
  }
  const out = new Uint8Array(zeros + bytes.length);
  for (let i = 0; i < bytes.length; i++) out[out.length - 1 - i] = bytes[i];
  return out;
}
