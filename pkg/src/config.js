// Validation of `createClient(relay, config)` arguments. js-client validates with zod and throws
// `new Error(JSON.stringify(zodError.format()))`; we check the same schema by hand and build the
// same text, so callers that show or match those messages see no difference.

import { codedError } from "./errors.js";

export const DEFAULT_TTL_MS = 7000;

/**
 * Checks `relay` and `config`, returns `{relay: {peerId, multiaddr}, options}`.
 * Throws `Error{code: "BAD_CONFIG"}` (js-client's zod text) or `Error{code: "BAD_RELAY"}`.
 */
export function validateClientArgs(relay, config = {}) {
  const relayIssues = [];
  checkRelay(relay, relayIssues);
  if (relayIssues.length) throw codedError("BAD_CONFIG", formatIssues(relayIssues), { issues: relayIssues });
  const configIssues = [];
  checkConfig(config, configIssues);
  if (configIssues.length) throw codedError("BAD_CONFIG", formatIssues(configIssues), { issues: configIssues });
  const multiaddr = typeof relay === "string" ? relay : relay.multiaddr;
  return { relay: { multiaddr, peerId: relayPeerId(multiaddr) }, options: clientOptions(config) };
}

/**
 * The peer id in a relay multiaddr: the value of its last `/p2p/` (or `/ipfs/`) part that is not
 * followed by `/p2p-circuit`. Full parsing (protocols, base58) happens in the Rust facade.
 */
export function relayPeerId(multiaddr) {
  if (!multiaddr.startsWith("/")) {
    throw codedError("BAD_RELAY", `multiaddr "${multiaddr}" must start with a "/"`);
  }
  const parts = multiaddr.split("/").slice(1);
  let peerId = null;
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === "p2p-circuit") peerId = null;
    else if ((parts[i] === "p2p" || parts[i] === "ipfs") && parts[i + 1]) peerId = parts[++i];
  }
  if (peerId === null) {
    throw codedError("BAD_RELAY", "Specified multiaddr is invalid or missing peer id: " + multiaddr.replace(/\/+$/, ""));
  }
  return peerId;
}

// Defaults as js-client's makeClientPeerConfig; `reconnect` is ours.
function clientOptions(config) {
  const conn = config.connectionOptions ?? {};
  return {
    keyPair: config.keyPair ?? { type: "Ed25519", source: "random" },
    defaultTtlMs: config.defaultTtlMs ?? DEFAULT_TTL_MS,
    printParticleId: config.debug?.printParticleId ?? false,
    dialTimeoutMs: conn.dialTimeoutMs,
    reconnect: conn.reconnect ?? true,
  };
}

// --- the schema, as js-client's clientPeer/types.ts declares it ---------------------------------

function checkRelay(relay, issues) {
  if (typeof relay === "string") return;
  // z.union([z.string(), relaySchema]): both branches' issues are reported.
  const objectIssues = [];
  if (expectObject([], relay, objectIssues)) {
    expectType(["peerId"], relay.peerId, "string", objectIssues);
    expectType(["multiaddr"], relay.multiaddr, "string", objectIssues);
  }
  if (objectIssues.length) issues.push(typeIssue([], "string", relay), ...objectIssues);
}

function checkConfig(config, issues) {
  if (!expectObject([], config, issues)) return;
  if (config.keyPair !== undefined && expectObject(["keyPair"], config.keyPair, issues)) {
    const { type, source } = config.keyPair;
    if (type !== "Ed25519") issues.push(literalIssue(["keyPair", "type"], "Ed25519"));
    if (source !== "random" && !(source instanceof Uint8Array)) {
      issues.push(literalIssue(["keyPair", "source"], "random"));
      issues.push({ path: ["keyPair", "source"], message: "Input not instance of Uint8Array" });
    }
  }
  const conn = config.connectionOptions;
  if (conn !== undefined && expectObject(["connectionOptions"], conn, issues)) {
    optional(["connectionOptions", "skipCheckConnection"], conn.skipCheckConnection, "boolean", issues);
    optional(["connectionOptions", "dialTimeoutMs"], conn.dialTimeoutMs, "number", issues);
    optional(["connectionOptions", "maxInboundStreams"], conn.maxInboundStreams, "number", issues);
    optional(["connectionOptions", "maxOutboundStreams"], conn.maxOutboundStreams, "number", issues);
    optional(["connectionOptions", "reconnect"], conn.reconnect, "boolean", issues);
  }
  optional(["defaultTtlMs"], config.defaultTtlMs, "number", issues);
  optional(["CDNUrl"], config.CDNUrl, "string", issues);
  if (config.debug !== undefined && expectObject(["debug"], config.debug, issues)) {
    optional(["debug", "printParticleId"], config.debug.printParticleId, "boolean", issues);
  }
}

function optional(path, value, type, issues) {
  if (value !== undefined) expectType(path, value, type, issues);
}

function expectType(path, value, type, issues) {
  if (parsedType(value) !== type) issues.push(typeIssue(path, type, value));
}

function expectObject(path, value, issues) {
  if (parsedType(value) === "object") return true;
  issues.push(typeIssue(path, "object", value));
  return false;
}

function typeIssue(path, expected, value) {
  const received = parsedType(value);
  return { path, message: received === "undefined" ? "Required" : `Expected ${expected}, received ${received}` };
}

function literalIssue(path, expected) {
  return { path, message: `Invalid literal value, expected ${JSON.stringify(expected)}` };
}

// zod's type names for received values.
function parsedType(value) {
  switch (typeof value) {
    case "number":
      return Number.isNaN(value) ? "nan" : "number";
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return "array";
      if (typeof value.then === "function" && typeof value.catch === "function") return "promise";
      if (typeof Map !== "undefined" && value instanceof Map) return "map";
      if (typeof Set !== "undefined" && value instanceof Set) return "set";
      if (typeof Date !== "undefined" && value instanceof Date) return "date";
      return "object";
    default:
      return typeof value;
  }
}

// zod's `error.format()`: a tree keyed by path, each node with its `_errors`.
function formatIssues(issues) {
  const root = { _errors: [] };
  for (const { path, message } of issues) {
    let node = root;
    for (const key of path) node = node[key] ??= { _errors: [] };
    node._errors.push(message);
  }
  return JSON.stringify(root);
}
