// Types of @lineage-edge/js-client; names and shapes as @fluencelabs/js-client 0.9
// (plus @fluencelabs/interfaces' Aqua type definitions, re-declared here).

import type { KeyPair, KeyPairOptions } from "./keypair.js";
export { KeyPair, fromBase58Sk, fromBase64Sk, fromOpts } from "./keypair.js";
export type { KeyPairOptions } from "./keypair.js";

// ---- values ----------------------------------------------------------------------------------

export type JSONValue = string | number | boolean | null | { [x: string]: JSONValue } | Array<JSONValue>;
export type JSONArray = Array<JSONValue>;
export type JSONObject = { [x: string]: JSONValue };
export type PeerIdB58 = string;
export type MaybePromise<T> = T | Promise<T>;

// ---- configuration ---------------------------------------------------------------------------

/** A relay: its multiaddr and peer id. */
export type Relay = { peerId: PeerIdB58; multiaddr: string };

/** A multiaddr string ending in `/p2p/<peerId>`, or a Relay. */
export type RelayOptions = string | Relay;

export type ConnectionState = "disconnected" | "connecting" | "connected" | "disconnecting";

/** Configuration of a client; every field is optional. */
export type ClientConfig = {
  /** Default: a random Ed25519 key. */
  keyPair?: KeyPairOptions;
  connectionOptions?: {
    /** Accepted for compatibility; unused (as in js-client 0.9). */
    skipCheckConnection?: boolean;
    /** Dial timeout in ms. */
    dialTimeoutMs?: number;
    /** Accepted for compatibility; stream limits are fixed by the wasm peer. */
    maxInboundStreams?: number;
    /** Accepted for compatibility; stream limits are fixed by the wasm peer. */
    maxOutboundStreams?: number;
    /** Ours: redial the relay after the connection drops. Default true. */
    reconnect?: boolean;
  };
  /** TTL of particles whose call sets none. Default 7000. */
  defaultTtlMs?: number;
  /** Accepted for compatibility and ignored: everything is loaded from this package. */
  CDNUrl?: string;
  debug?: {
    /** Log the id of every particle this peer initiates. */
    printParticleId?: boolean;
  };
};

/** Public interface of a client. */
export interface IFluenceClient {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  /** Adds a handler for state changes (all are kept); returns the current state. */
  onConnectionStateChange(handler: (state: ConnectionState) => void): ConnectionState;
  getPeerId(): string;
  getRelayPeerId(): string;
}

// ---- services --------------------------------------------------------------------------------

export interface SecurityTetraplet {
  peer_pk: string;
  service_id: string;
  function_name: string;
  lens: string;
}

/** The particle that made a service call. */
export type ParticleContext = {
  particleId: string;
  initPeerId: PeerIdB58;
  timestamp: number;
  ttl: number;
  signature: Uint8Array;
  tetraplets: SecurityTetraplet[][];
};

/** A service call, as low-level handlers (`internals.regHandler.common`) receive it. */
export interface CallServiceData {
  serviceId: string;
  fnName: string;
  args: JSONArray;
  tetraplets: SecurityTetraplet[][];
  particleContext: ParticleContext;
}

/** 0 = success; anything else makes the AIR call fail with `result` as its error. */
export type CallServiceResult = { retCode: number; result: JSONValue };
export type GenericCallServiceHandler = (req: CallServiceData) => MaybePromise<CallServiceResult>;

export type ServiceFnArgs<T> = { args: T; context: ParticleContext };
export type ArgCallbackFunction = (args: ServiceFnArgs<JSONArray>) => MaybePromise<JSONValue>;
export type ServiceImpl = Record<string, (args: ServiceFnArgs<JSONArray>) => MaybePromise<JSONValue>>;
export type UserServiceImpl = Record<string, (...args: [...JSONArray, ParticleContext]) => MaybePromise<JSONValue>>;

/** Options of a Marine service run inside the peer (ours). */
export type MarineServiceOptions = { fuelPerCall?: number; memoryBytes?: number };

// ---- Aqua type definitions (as @fluencelabs/interfaces 0.12) -----------------------------------

export type ScalarNames = "u8" | "u16" | "u32" | "u64" | "i8" | "i16" | "i32" | "i64" | "f32" | "f64" | "bool" | "string";
export type ScalarType = { tag: "scalar"; name: ScalarNames };
export type TopType = { tag: "topType" };
export type BottomType = { tag: "bottomType" };
export type NilType = { tag: "nil" };
export type OptionType = { tag: "option"; type: SimpleTypes };
export type ArrayType = { tag: "array"; type: SimpleTypes };
export type StructType = { tag: "struct"; name: string; fields: { [key: string]: SimpleTypes } };
export type SimpleTypes = ScalarType | OptionType | ArrayType | StructType | TopType | BottomType | NilType;
export type LabeledProductType<T = SimpleTypes | ArrowType<LabeledProductType<SimpleTypes> | UnlabeledProductType>> = {
  tag: "labeledProduct";
  fields: { [key: string]: T };
};
export type UnlabeledProductType<T extends Array<SimpleTypes> = SimpleTypes[]> = { tag: "unlabeledProduct"; items: T };
export type ProductType = UnlabeledProductType | LabeledProductType;
export type NonArrowType = SimpleTypes | ProductType;
export type NonArrowSimpleType = SimpleTypes | UnlabeledProductType | LabeledProductType<SimpleTypes>;
export type ArrowType<
  T extends LabeledProductType<SimpleTypes | ArrowType<UnlabeledProductType>> | UnlabeledProductType =
    | LabeledProductType<SimpleTypes | ArrowType<UnlabeledProductType>>
    | UnlabeledProductType,
> = { tag: "arrow"; domain: T | NilType; codomain: UnlabeledProductType | NilType };
export type ArrowWithoutCallbacks = ArrowType<UnlabeledProductType>;
export type ArrowWithCallbacks = ArrowType<LabeledProductType<SimpleTypes | ArrowWithoutCallbacks>>;

export interface FunctionCallConstants {
  relay: string;
  getDataSrv: string;
  callbackSrv: string;
  responseSrv: string;
  responseFnName: string;
  errorHandlingSrv: string;
  errorFnName: string;
}

/** What the aqua compiler emits for a `func`. */
export interface FunctionCallDef {
  functionName: string;
  arrow: ArrowWithCallbacks;
  names: FunctionCallConstants;
}

/** What the aqua compiler emits for a `service`. */
export interface ServiceDef {
  defaultServiceId?: string;
  functions: LabeledProductType<ArrowType<LabeledProductType<SimpleTypes> | UnlabeledProductType>> | NilType;
}

/** The trailing options argument of compiled functions. */
export type CallParams = { ttl?: number };

// ---- client ----------------------------------------------------------------------------------

export declare class ClientPeer implements IFluenceClient {
  /** Not connected until connect(); usually made by createClient / Fluence.connect. */
  constructor(relay: RelayOptions, config?: ClientConfig, keyPair?: KeyPair);
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly connectionState: ConnectionState;
  readonly keyPair: KeyPair | undefined;
  onConnectionStateChange(handler: (state: ConnectionState) => void): ConnectionState;
  offConnectionStateChange(handler: (state: ConnectionState) => void): boolean;
  getPeerId(): string;
  getRelayPeerId(): string;
  registerMarineService(wasm: ArrayBuffer | SharedArrayBuffer | Uint8Array, serviceId: string, options?: MarineServiceOptions): Promise<void>;
  removeMarineService(serviceId: string): Promise<boolean>;
  /** @private Used by callAquaFunction / registerService; subject to change. */
  readonly internals: {
    getRelayPeerId(): string;
    regHandler: {
      common(serviceId: string, fnName: string, handler: GenericCallServiceHandler): void;
      /** Unsupported: throws. */
      forParticle(particleId: string, serviceId: string, fnName: string, handler: GenericCallServiceHandler): never;
    };
    callScript(
      script: string,
      args: Record<string, JSONValue>,
      callbacks: Record<string, GenericCallServiceHandler>,
      ttl: number | undefined,
      fireAndForget: boolean,
    ): Promise<JSONValue>;
    createNewParticle(...args: unknown[]): never;
    initiateParticle(...args: unknown[]): never;
    parseAst(...args: unknown[]): never;
    getServices(): never;
  };
}

export declare const createClient: (relay: RelayOptions, config?: ClientConfig) => Promise<ClientPeer>;

interface FluencePublicApi {
  defaultClient: ClientPeer | undefined;
  connect: (relay: RelayOptions, config?: ClientConfig) => Promise<void>;
  disconnect: () => Promise<void>;
  onConnectionStateChange: (handler: (state: ConnectionState) => void) => ConnectionState;
  offConnectionStateChange: (handler: (state: ConnectionState) => void) => boolean;
  getClient: () => ClientPeer;
}
export declare const Fluence: FluencePublicApi;

export declare const callAquaFunction: (args: {
  script: string;
  config?: CallParams;
  peer: ClientPeer;
  args: Record<string, JSONValue | ArgCallbackFunction>;
  fireAndForget: boolean;
}) => Promise<JSONValue>;

export declare const registerService: (args: { peer: ClientPeer; serviceId: string; service: ServiceImpl }) => void;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export declare const v5_callFunction: (args: unknown[], def: FunctionCallDef, script: string) => Promise<any>;
export declare const v5_registerService: (args: unknown[], def: ServiceDef) => void;

export declare function js2aqua(value: JSONValue, schema: NonArrowSimpleType, opts: { path: string[] }): JSONValue;
export declare function aqua2js(value: JSONValue, schema: NonArrowSimpleType, opts: { path: string[] }): JSONValue;

// ---- networks --------------------------------------------------------------------------------

export declare const kras: Relay[];
export declare const stage: Relay[];
export declare const testNet: Relay[];
export declare const randomKras: () => Relay;
export declare const randomStage: () => Relay;
export declare const randomTestNet: () => Relay;

// ---- verification (ours: not in js-client) ---------------------------------------------------

/** One verified version of a record (newest first in {@link HistoryReport}). */
export type VerifiedVersion = {
  cid: string;
  /** The content the meta contract wrote (JSON). */
  content: JSONValue;
  record: { data_key: string; meta_contract_id: string; public_key: string; alias: string; version: string; loose: number };
  transaction: {
    hash: string; method: string; meta_contract_id: string; chain_id: string; token_address: string; token_id: string;
    alias: string; version: string; mcdata: string; data: string; prev: string; timestamp: number;
    public_key: string; signature: string; legacy: boolean;
  };
  /** Whether its meta contract was rerun and wrote exactly this content. */
  replayed: boolean;
};

export type HistoryReport = { head: string; versions: VerifiedVersion[] };

/** Reported every 100 versions and at the end of each phase (`check`, then `replay`). */
export type HistoryProgress = { phase: "check" | "replay"; done: number; total?: number };

export type VerifyOptions = {
  replay?: boolean;
  allowLegacy?: boolean;
  maxVersions?: number;
  onProgress?: (p: HistoryProgress) => void;
  /** Stops the verification at its next slice (~25 ms): `ABORTED`. */
  signal?: AbortSignal;
};

/**
 * Verifies a record's history ending at `head` from its blocks and its meta contract's module
 * (by CID string), trusting nothing that served them: CIDs, transaction hashes, signatures,
 * links, and — unless `replay: false` — a deterministic rerun of each version's meta contract.
 * Throws an `Error` with `code` `HISTORY_INVALID` / `REPLAY_FAILED` and `index` / `cid` of the
 * first bad version. `onProgress` sees every 100 versions and each phase's end; both phases yield
 * to the event loop every ~25 ms and after each progress call, so a page can paint it.
 *
 * @example
 * const report = await verifyHistory(head, new Map([[head, bytes], [moduleCid, wasm]]));
 */
export function verifyHistory(
  head: string,
  blocks: Map<string, Uint8Array> | Record<string, Uint8Array> | Iterable<[string, Uint8Array]>,
  options?: VerifyOptions,
): Promise<HistoryReport>;

export type VerifyProgress =
  | { stage: "lookup" }
  | { stage: "fetch-history"; head: string }
  /** Every 64 KiB downloaded and at the end; `totalBytes` is the declared length, when the body keeps to it. */
  | { stage: "fetch-history"; head: string; bytes: number; totalBytes?: number }
  | { stage: "fetch-modules"; versions: number; modules: number }
  | { stage: "verify"; blocks: number }
  | ({ stage: "verify"; blocks: number } & HistoryProgress)
  | { stage: "done"; versions: number };

/**
 * Looks a record up on a node's gateway (`get_metadata`), fetches its history as a CAR and its
 * meta contract's modules, and verifies everything locally with {@link verifyHistory}: the node
 * is trusted for nothing but which head it names. Throws `NOT_FOUND`, `FETCH_FAILED`, or as
 * verifyHistory.
 *
 * @example
 * const { content } = await verifyMetadata({ gateway, chainId: "80001", tokenAddress, tokenId: "1",
 *   metaContractId: "open", publicKey, version: "v1" });
 */
export function verifyMetadata(record: {
  gateway: string;
  chainId: string;
  tokenAddress: string;
  tokenId: string;
  metaContractId: string;
  publicKey: string;
  alias?: string;
  version: string;
  replay?: boolean;
  /** The most the CAR (or a module) may hold: a positive safe integer, default 64 MiB; more is `FETCH_FAILED` with `reason: "TOO_LARGE"`. */
  maxBytes?: number;
  /** How long the gateway may stay silent (before a reply or between two chunks), default 60 000 ms: then `FETCH_FAILED`, `reason: "TIMEOUT"`. */
  timeoutMs?: number;
  onProgress?: (p: VerifyProgress) => void;
  /** Cancels the lookup, the downloads or the verification, wherever it is: `ABORTED`. */
  signal?: AbortSignal;
}): Promise<{ cid: string; content: JSONValue; versions: VerifiedVersion[] }>;

// ---- wallets and publishing (ours: not in js-client) -------------------------------------------

/** An EIP-1193 provider: what wallets inject (`window.ethereum`) and announce over EIP-6963. */
export interface Eip1193Provider {
  request(args: { method: string; params?: unknown[] | Record<string, unknown> }): Promise<unknown>;
}

/** An EIP-6963 announcement: the wallet's `info` and its provider. */
export type WalletDetail = { info: { uuid: string; name: string; icon: string; rdns: string }; provider: Eip1193Provider };

/**
 * The wallets injected into this page (EIP-6963 `eip6963:requestProvider` /
 * `eip6963:announceProvider`, one per uuid), or a legacy `window.ethereum`; `[]` without a window.
 *
 * @example
 * const [wallet] = await discoverWallets();
 */
export function discoverWallets(options?: { timeoutMs?: number; target?: EventTarget }): Promise<WalletDetail[]>;

/** Signs Lineage transactions: {@link walletSigner} or {@link keyPairSigner}. */
export interface TransactionSigner {
  readonly kind: "evm" | "ed25519";
  readonly legacy: boolean;
  /** The `public_key` transactions carry (an EVM address or a base58 Ed25519 key). */
  publicKey(): Promise<string>;
  sign(request: TransactionRequest): Promise<TransactionRequest>;
}

/** A Lineage transaction request (docs/metadata-signing.md). */
export type TransactionRequest = {
  method: string; meta_contract_id: string; chain_id: string; token_address: string; token_id: string;
  alias: string; version: string; mcdata: string; data: string; prev: string; timestamp: number;
  public_key: string; signature: string;
};

/**
 * A signer backed by an EIP-1193 provider: `eth_requestAccounts`, then `eth_signTypedData_v4`
 * (the wallet shows every signed field), or `personal_sign` with `legacy: true`.
 *
 * @example
 * const signer = walletSigner(window.ethereum);
 */
export function walletSigner(provider: Eip1193Provider, options?: { account?: string; legacy?: boolean }): TransactionSigner;

/**
 * A signer with an Ed25519 {@link KeyPair} (strong mode).
 *
 * @example
 * const signer = keyPairSigner(await KeyPair.randomEd25519());
 */
export function keyPairSigner(keyPair: KeyPair): TransactionSigner;

export type PublishProgress =
  | { stage: "account" }
  | { stage: "prev" }
  | { stage: "sign"; prev: string }
  | { stage: "send" }
  | { stage: "done"; cid?: string; transactionHash: string };

/**
 * Builds, signs (the wallet shows the typed fields) and publishes a `metadata` transaction on a
 * node's gateway; `prev` is looked up when not given. Throws an `Error` with `code`
 * `USER_REJECTED` (EIP-1193 4001), `WALLET_UNAUTHORIZED` / `WALLET_UNSUPPORTED` /
 * `WALLET_DISCONNECTED` / `WALLET_ERROR`, `SIGNATURE_INVALID` (checked before sending),
 * `PUBLISH_REJECTED` (with `reason`, e.g. `stale_prev`, `contract_rejected`), `FETCH_FAILED` or
 * `BAD_ARGUMENT`.
 *
 * @example
 * const { cid } = await publishMetadata({ gateway, signer: walletSigner(window.ethereum),
 *   chainId: "80001", tokenAddress, tokenId: "1", metaContractId: "open", version: "v1",
 *   data: { name: "Ada" } });
 */
export function publishMetadata(tx: {
  gateway: string;
  signer: TransactionSigner;
  chainId: string;
  tokenAddress: string;
  tokenId: string;
  metaContractId: string;
  version: string;
  data: string | JSONValue;
  alias?: string;
  mcdata?: string;
  prev?: string;
  timestamp?: number;
  /** "metadata" (default) or "contract" (binding a meta contract: `data` is its JSON). */
  method?: "metadata" | "contract";
  /** How long the node may stay silent on a request, default 60 000 ms: then `FETCH_FAILED`, `reason: "TIMEOUT"`. */
  timeoutMs?: number;
  onProgress?: (p: PublishProgress) => void;
}): Promise<{ cid?: string; transactionHash: string; request: TransactionRequest; receipt: Record<string, unknown> }>;
