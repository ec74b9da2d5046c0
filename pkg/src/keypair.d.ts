/** Options to make the key pair of a peer. Only Ed25519 keys are supported. */
export type KeyPairOptions = {
  type: "Ed25519";
  /** "random", or the 32-byte Ed25519 secret key (seed). */
  source: "random" | Uint8Array;
};

/** An Ed25519 key pair (libp2p peer identity). */
export declare class KeyPair {
  private constructor();
  /** A key pair from a 32-byte Ed25519 secret key. Rejects with `Error{code: "BAD_KEY"}`. */
  static fromEd25519SK(seed: Uint8Array): Promise<KeyPair>;
  /** A key pair with a random secret key. */
  static randomEd25519(): Promise<KeyPair>;
  /**
   * Verifies an Ed25519 signature with a libp2p-protobuf public key (`08 01 12 20 ‖ 32 bytes`).
   * A boolean once the wasm module is loaded, a Promise before.
   */
  static verifyWithPublicKey(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean | Promise<boolean>;
  /** Base58 peer id (`12D3KooW…`). */
  getPeerId(): string;
  /** Public key, libp2p-protobuf encoded (36 bytes). */
  getPublicKey(): Uint8Array;
  /** The 32-byte secret key (seed). */
  toEd25519PrivateKey(): Uint8Array;
  /** Not available in this package (no libp2p JS objects): throws `Error{code: "UNSUPPORTED"}`. */
  getLibp2pPeerId(): never;
  /** 64-byte Ed25519 signature of `data`. */
  signBytes(data: Uint8Array): Promise<Uint8Array>;
  verify(data: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

/** A key pair from a base64 32-byte secret key. */
export declare const fromBase64Sk: (sk: string) => Promise<KeyPair>;
/** A key pair from a base58 32-byte secret key. */
export declare const fromBase58Sk: (sk: string) => Promise<KeyPair>;
export declare const fromOpts: (opts: KeyPairOptions) => Promise<KeyPair>;
