import { fleetSchema } from "./schema.js";

/**
 * JSON Schema of oscd.toml, for editors (taplo / Even Better TOML read `#:schema`). The
 * converter is loaded only here: it would add ~70 ms to every oscd start.
 */
export async function fleetJsonSchema(): Promise<object> {
  const { zodToJsonSchema } = await import("zod-to-json-schema");
  return zodToJsonSchema(fleetSchema, { name: "oscd", target: "jsonSchema7", $refStrategy: "none" });
}
