import { zodToJsonSchema } from "zod-to-json-schema";
import { fleetSchema } from "./schema.js";

/** JSON Schema of oscd.toml, for editors (taplo / Even Better TOML read `#:schema`). */
export function fleetJsonSchema(): object {
  return zodToJsonSchema(fleetSchema, { name: "oscd", target: "jsonSchema7", $refStrategy: "none" });
}
