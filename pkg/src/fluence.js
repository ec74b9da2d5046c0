// `createClient` and the `Fluence` default-client facade of js-client 0.9.

import { ClientPeer } from "./client-peer.js";
import { codedError } from "./errors.js";

/**
 * Validates `relay`/`config` (js-client's messages), loads the wasm peer, connects.
 * Resolves to the connected ClientPeer.
 */
export async function createClient(relay, config = {}) {
  const client = new ClientPeer(relay, config);
  await client.connect();
  return client;
}

// Handlers given to Fluence.onConnectionStateChange, kept for every client Fluence.connect makes.
const stateHandlers = new Set();

export const Fluence = {
  /** The client of the last successful Fluence.connect(), until Fluence.disconnect(). */
  defaultClient: undefined,

  /** Connects the default client (see createClient). */
  async connect(relay, config = {}) {
    const client = new ClientPeer(relay, config);
    for (const handler of stateHandlers) client.onConnectionStateChange(handler);
    await client.connect();
    Fluence.defaultClient = client;
  },

  /** Disconnects and forgets the default client. */
  async disconnect() {
    await Fluence.defaultClient?.disconnect();
    Fluence.defaultClient = undefined;
  },

  /**
   * Adds a state handler to the default client, now and for later Fluence.connect() calls
   * (js-client drops handlers given before connect). Returns the current state.
   */
  onConnectionStateChange(handler) {
    if (typeof handler === "function") stateHandlers.add(handler);
    Fluence.defaultClient?.onConnectionStateChange(handler);
    return Fluence.defaultClient?.connectionState ?? "disconnected";
  },

  /** Removes a handler added with Fluence.onConnectionStateChange (ours). */
  offConnectionStateChange(handler) {
    Fluence.defaultClient?.offConnectionStateChange(handler);
    return stateHandlers.delete(handler);
  },

  /** The default client; throws NOT_INITIALIZED before Fluence.connect(). */
  getClient() {
    if (Fluence.defaultClient === undefined) {
      throw codedError("NOT_INITIALIZED", "Fluence client is not initialized. Call Fluence.connect() first");
    }
    return Fluence.defaultClient;
  },
};
