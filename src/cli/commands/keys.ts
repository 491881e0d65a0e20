import type { Command } from "commander";
import { resolve } from "node:path";
import { formatPublicKey, generateSecretKey, publicKeyOf, readSecretKeyFile, writeKeyPair } from "../../nix/index.js";
import { printJson } from "../output.js";

export function registerKeys(program: Command): void {
  const keys = program.command("keys").description("make and inspect Nix-format ed25519 signing keys");

  keys
    .command("generate")
    .argument("<name>", "key name, e.g. fleet-1 (Nix shows it in signatures)")
    .option("--secret-file <path>", "where to write the secret key (mode 0600)")
    .option("--public-file <path>", "where to write the public key")
    .option("--json", "print the paths and public key as JSON")
    .description("generate a key pair that signs binary caches and release manifests")
    .addHelpText(
      "after",
      `
Examples:
  oscd keys generate fleet-1
      writes fleet-1.secret and fleet-1.public in the current directory
  oscd keys generate fleet-1 --secret-file /etc/oscd/fleet.sec --public-file fleet.pub

Put the public key in nix.settings.trusted-public-keys on every machine; keep the secret in CI.`,
    )
    .action(async (name: string, o: { secretFile?: string; publicFile?: string; json?: boolean }) => {
      const key = generateSecretKey(name);
      const secretFile = resolve(o.secretFile ?? `${name}.secret`);
      const publicFile = resolve(o.publicFile ?? `${name}.public`);
      await writeKeyPair(key, secretFile, publicFile);
      const publicKey = formatPublicKey(publicKeyOf(key));
      if (o.json) printJson({ name, secretFile, publicFile, publicKey });
      else process.stdout.write(`secret key: ${secretFile}\npublic key: ${publicFile}\n${publicKey}\n`);
    });

  keys
    .command("public")
    .argument("<secret-file>", "a Nix secret key file")
    .description("print the public key of a secret key")
    .action(async (file: string) => {
      process.stdout.write(formatPublicKey(publicKeyOf(await readSecretKeyFile(file))) + "\n");
    });
}
