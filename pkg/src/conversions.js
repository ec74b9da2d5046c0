// Conversions between JS values and Aqua's JSON representation, driven by the Aqua type schema
// the compiler emits. Same results and error texts as js-client 0.9's js2aqua/aqua2js.

import { codedError } from "./errors.js";

const NUMBER_SCALARS = new Set(["u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64", "f32", "f64"]);

/** "Aqua type mismatch" — `code` SCHEMA_MISMATCH, `path` the location of the bad value. */
export class SchemaValidationError extends Error {
  constructor(path, schema, expected, provided) {
    const given = provided === null ? "null" : Array.isArray(provided) ? "array" : typeof provided;
    super(
      `Aqua type mismatch. Path: ${path.join(".")}; Expected: ${expected}; Given: ${given}; \n` +
        `Schema: ${JSON.stringify(schema)}; \n` +
        "Try recompiling rust services and aqua. Make sure you are using up-to-date versions of aqua libraries",
    );
    this.name = "SchemaValidationError";
    this.code = "SCHEMA_MISMATCH";
    this.path = path;
  }
}

/** JS value → Aqua value: `T | null` becomes `[] | [T]` for options; scalars are type-checked. */
export function js2aqua(value, schema, { path }) {
  switch (schema.tag) {
    case "nil":
      if (value !== null) throw new SchemaValidationError(path, schema, "null", value);
      return value;
    case "option":
      return value === null ? [] : [js2aqua(value, schema.type, { path: [...path, "?"] })];
    case "topType":
      return value;
    case "bottomType":
      throw new SchemaValidationError(path, schema, "never", value);
    case "scalar":
      return checkScalar(value, schema, path);
    case "array":
      if (!Array.isArray(value)) throw new SchemaValidationError(path, schema, "array", value);
      return value.map((item, i) => js2aqua(item, schema.type, { path: [...path, `[${i}]`] }));
    case "unlabeledProduct":
      if (!Array.isArray(value)) throw new SchemaValidationError(path, schema, "array", value);
      return pairUp(value, schema.items).map(([v, s], i) => js2aqua(v, s, { path: [...path, `[${i}]`] }));
    case "struct":
    case "labeledProduct":
      if (!isRecord(value)) throw new SchemaValidationError(path, schema, "object", value);
      return mapFields(value, schema, (v, type, key) => js2aqua(v, type, { path: [...path, key] }));
    default:
      throw new SchemaValidationError(path, schema, "never", value);
  }
}

/**
 * Aqua value → JS value: options `[] | [T]` (or null) become `T | null`, missing struct fields null.
 * Scalars pass unchecked. As in js-client, container mismatches report an empty path.
 */
export function aqua2js(value, schema, { path }) {
  switch (schema.tag) {
    case "nil":
      return null;
    case "option":
      if (value !== null && !Array.isArray(value)) {
        throw new SchemaValidationError(path, schema, "array or null", value);
      }
      return value !== null && "0" in value ? aqua2js(value[0], schema.type, { path: [...path, "?"] }) : null;
    case "scalar":
    case "topType":
    case "bottomType":
      return value;
    case "array":
      if (!Array.isArray(value)) throw new SchemaValidationError([], schema, "array", value);
      return value.map((item, i) => aqua2js(item, schema.type, { path: [...path, `[${i}]`] }));
    case "unlabeledProduct":
      if (!Array.isArray(value)) throw new SchemaValidationError([], schema, "array", value);
      return pairUp(value, schema.items).map(([v, s], i) => aqua2js(v, s, { path: [...path, `[${i}]`] }));
    case "struct":
    case "labeledProduct":
      if (!isRecord(value)) throw new SchemaValidationError([], schema, "object", value);
      return mapFields(value, schema, (v, type, key) => aqua2js(v, type, { path: [...path, key] }));
    default:
      throw new SchemaValidationError([], schema, "never", value);
  }
}

/**
 * Wraps a user function typed by an Aqua arrow into a `({args, context}) => result` handler:
 * Aqua arguments are converted to JS, the function gets `(...jsArgs, context)`, and its result is
 * converted back (void arrows always yield null).
 */
export function wrapJsFunction(func, arrow, funcName) {
  return async ({ args, context }) => {
    const argSchemas = domainTypes(arrow.domain);
    if (argSchemas.length !== args.length) {
      throw codedError(
        "SCHEMA_MISMATCH",
        `Schema and generated air doesn't match. Air has been called with ${args.length} args and schema contains ${argSchemas.length} args`,
      );
    }
    const jsArgs = args.map((arg, i) => aqua2js(arg, argSchemas[i], { path: [`${funcName}Args`, `[${i}]`] }));
    const result = await func(...jsArgs, context);
    if (isVoid(arrow.codomain)) return null;
    return js2aqua(result, resultSchema(arrow.codomain), { path: [`${funcName}ReturnValue`] });
  };
}

/** True when an arrow's codomain returns nothing (`nil` or an empty product). */
export function isVoid(codomain) {
  return codomain.tag === "nil" || codomain.items?.length === 0;
}

/** A single-item codomain converts as that item; anything else as the whole product. */
export function resultSchema(codomain) {
  const single = codomain.tag === "unlabeledProduct" && codomain.items.length === 1 && "0" in codomain.items;
  return single ? codomain.items[0] : codomain;
}

/** The argument types of an arrow's domain, in order. */
export function domainTypes(domain) {
  if (domain.tag === "nil") return [];
  if (domain.tag === "unlabeledProduct") return domain.items;
  return Object.values(domain.fields);
}

/** Pairs values with schemas of the same count (js-client's `zip`, with its message). */
export function pairUp(values, schemas) {
  if (values.length !== schemas.length) throw codedError("SCHEMA_MISMATCH", "Array length doesn't match");
  return values.map((v, i) => [v, schemas[i]]);
}

function checkScalar(value, schema, path) {
  let expected;
  if (NUMBER_SCALARS.has(schema.name)) expected = "number";
  else if (schema.name === "bool") expected = "boolean";
  else if (schema.name === "string") expected = "string";
  else throw new SchemaValidationError(path, schema, schema.name, value);
  if (typeof value !== expected) throw new SchemaValidationError(path, schema, expected, value);
  return value;
}

function isRecord(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

// Every schema field, in schema order; a field the value lacks counts as null.
function mapFields(value, schema, convert) {
  return Object.fromEntries(
    Object.entries(schema.fields).map(([key, type]) => [key, convert(value[key] === undefined ? null : value[key], type, key)]),
  );
}
