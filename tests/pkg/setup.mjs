// Shared by the package tests: loads our package with the glue stubbed, and the real
// @fluencelabs/js-client 0.9 (root devDependency) when it is installed.
import { register } from "node:module";

register("./glue-hooks.mjs", import.meta.url);

export const ours = await import("../../pkg/src/index.js");

export const real = await import("@fluencelabs/js-client").catch(() => null);

/** `skip` option for tests that compare with js-client. */
export const needsReal = real ? {} : { skip: "@fluencelabs/js-client is not installed (npm ci)" };

/** Runs `fn`, returns {value} or {error: message}; awaits promises. */
export async function outcome(fn) {
  try {
    return { value: await fn() };
  } catch (err) {
    return { error: err instanceof Error ? err.message : err };
  }
}
