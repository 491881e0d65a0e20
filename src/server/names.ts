import { CHANNEL_NAME, HOST_NAME, MAX_NAME_LENGTH } from "../manifest/index.js";
import { badRequest } from "./errors.js";

/** Host and channel names as they arrive in URLs and bodies: the manifest's rules, or a 400. */
export function checkHostName(name: unknown): string {
  if (typeof name !== "string" || name.length > MAX_NAME_LENGTH || !HOST_NAME.test(name) || name in Object.prototype) {
    throw badRequest("bad-host", `${JSON.stringify(String(name).slice(0, 80))} is not a host name`);
  }
  return name;
}

export function checkChannel(name: unknown): string {
  if (typeof name !== "string" || name.length > MAX_NAME_LENGTH || !CHANNEL_NAME.test(name) || name in Object.prototype) {
    throw badRequest("bad-channel", `${JSON.stringify(String(name).slice(0, 80))} is not a channel name`);
  }
  return name;
}

export function checkTag(name: unknown): string {
  if (typeof name !== "string" || name.length > MAX_NAME_LENGTH || !HOST_NAME.test(name)) throw badRequest("bad-tag", `${JSON.stringify(String(name).slice(0, 80))} is not a tag`);
  return name;
}
