// What Aqua-compiled code and hand-written callers use to run AIR and serve services:
// callAquaFunction / registerService (low level) and v5_callFunction / v5_registerService
// (the aqua compiler's JS/TS backend imports these two).

import { ClientPeer } from "./client-peer.js";
import { codedError } from "./errors.js";
import { aqua2js, isVoid, js2aqua, pairUp, resultSchema, SchemaValidationError, wrapJsFunction } from "./conversions.js";
import { Fluence } from "./fluence.js";

/**
 * Runs `script` on `peer`. `args`: name → JSON value (served as `getDataSrv/<name>`) or
 * `({args, context}) => result` (served as `callbackSrv/<name>` for this particle only).
 * Resolves with what the script passes to `callbackSrv.response`; with null once sent when
 * `fireAndForget`. Rejects with `Error{code}`; SCRIPT_ERROR carries the Aqua error's fields.
 */
export async function callAquaFunction({ script, config = {}, peer, args, fireAndForget }) {
  const values = {};
  const callbacks = {};
  for (const [name, value] of Object.entries(args ?? {})) {
    if (typeof value === "function") {
      callbacks[name] = async (req) => ({ retCode: 0, result: await value({ args: req.args, context: req.particleContext }) });
    } else {
      values[name] = value;
    }
  }
  return ourPeer(peer).internals.callScript(script, values, callbacks, config?.ttl, Boolean(fireAndForget));
}

/**
 * Serves every function of `service` (a plain object's own functions, or a class instance's
 * prototype methods) as `serviceId`; each gets `{args, context}` and returns a JSON value.
 */
export function registerService({ peer, serviceId, service }) {
  const target = ourPeer(peer);
  for (const [fnName, fn] of serviceFunctions(service)) {
    const bound = fn.bind(service);
    target.internals.regHandler.common(serviceId, fnName, async (req) => ({
      retCode: 0,
      result: await bound({ args: req.args, context: req.particleContext }),
    }));
  }
}

/**
 * The aqua compiler's function call: `args` = `[peer?, ...aquaArgs, config?: {ttl?}]`, `def` the
 * FunctionCallDef, `script` the AIR. Without a ClientPeer first, uses Fluence's default client.
 */
export async function v5_callFunction(args, def, script) {
  const [first, ...rest] = args;
  if (!(first instanceof ClientPeer)) return v5_callFunction([defaultPeer(), first, ...rest], def, script);

  const schemaArgs = def.arrow.domain.tag === "nil" ? [] : Object.entries(def.arrow.domain.fields);
  const config = schemaArgs.length < rest.length ? rest.pop() : undefined;
  checkCallConfig(config);
  const callArgs = Object.fromEntries(
    pairUp(rest.slice(0, schemaArgs.length), schemaArgs).map(([arg, [name, type]]) => {
      if (type.tag === "arrow") {
        if (typeof arg !== "function") throw new SchemaValidationError([name], type, "function", arg);
        return [name, wrapJsFunction(arg, type, name)];
      }
      if (typeof arg === "function") throw new SchemaValidationError([name], type, "non-function value", arg);
      return [name, js2aqua(arg, type, { path: [name] })];
    }),
  );
  const returnsNothing = isVoid(def.arrow.codomain);
  const result = await callAquaFunction({ script, peer: first, args: callArgs, config, fireAndForget: returnsNothing });
  if (returnsNothing) return null;
  return aqua2js(result, resultSchema(def.arrow.codomain), { path: [`${def.functionName}ReturnValue`] });
}

/**
 * The aqua compiler's service registration: `args` = `[impl]`, `[serviceId, impl]`,
 * `[peer, impl]` or `[peer, serviceId, impl]`; `def` the ServiceDef. Each schema function of
 * `impl` is called with `(...jsArgs, context)`.
 */
export function v5_registerService(args, def) {
  let peer;
  let serviceId;
  let impl;
  if (args.length === 1) [peer, serviceId, impl] = [defaultPeer(), defaultServiceId(def), args[0]];
  else if (args.length === 2 && args[0] instanceof ClientPeer) [peer, serviceId, impl] = [args[0], defaultServiceId(def), args[1]];
  else if (args.length === 2) [peer, serviceId, impl] = [defaultPeer(), args[0], args[1]];
  else [peer, serviceId, impl] = args;
  if (typeof impl !== "object" || impl === null) {
    throw codedError("BAD_ARGUMENT", "Service implementation must be an object or a class instance");
  }
  const schema = def.functions.tag === "nil" ? {} : def.functions.fields;
  const wrapped = Object.fromEntries(
    Object.entries(schema).map(([name, arrow]) => {
      const fn = impl[name];
      if (fn === undefined) {
        throw codedError(
          "SCHEMA_MISMATCH",
          `Service function ${name} listed in Aqua schema but wasn't provided in schema implementation object or class instance. Check that your Aqua service definition matches passed service implementation`,
        );
      }
      return [name, wrapJsFunction(fn.bind(impl), arrow, name)];
    }),
  );
  registerService({ peer, serviceId, service: wrapped });
}

function defaultPeer() {
  if (Fluence.defaultClient === undefined) {
    throw codedError(
      "NOT_INITIALIZED",
      "Could not register Aqua service because the client is not initialized. Did you forget to call Fluence.connect()?",
    );
  }
  return Fluence.defaultClient;
}

function defaultServiceId(def) {
  if (def.defaultServiceId === undefined) throw codedError("BAD_ARGUMENT", "Service ID is not provided");
  return def.defaultServiceId;
}

function ourPeer(peer) {
  if (peer instanceof ClientPeer) return peer;
  throw codedError("BAD_ARGUMENT", "peer must be a ClientPeer of @lineage-edge/js-client");
}

// The trailing `{ttl?: number}` of a compiled function call.
function checkCallConfig(config) {
  const ok =
    config === undefined ||
    (typeof config === "object" && config !== null && !Array.isArray(config) && (config.ttl === undefined || (typeof config.ttl === "number" && !Number.isNaN(config.ttl))));
  if (!ok) throw codedError("BAD_CONFIG", `Aqua call config must be undefined or {ttl?: number}, got ${JSON.stringify(config)}`);
}

// js-client's rule: a class instance contributes its direct prototype's methods, a plain object
// its own function properties.
function serviceFunctions(service) {
  const proto = Object.getPrototypeOf(service);
  const source = proto !== null && proto.constructor !== Object ? proto : service;
  return Object.getOwnPropertyNames(source)
    .filter((name) => name !== "constructor" && typeof source[name] === "function")
    .map((name) => [name, source[name]]);
}
