// The test harness's stand-in for a newer Nix: put first on PATH (see ../nix-newer.ts), it runs
// the machine's real Nix (Debian's 2.8) and presents what Nix 2.33+ prints and accepts:
//   - `--version` of the presented release;
//   - `path-info --json`: an object keyed by store path (`null` for an invalid one), each entry
//     with version/storeDir/ca/deriver/signatures as 2.33's `--json-format 1`, or with
//     `--json-format 2|3` the versioned `{ version, storeDir, info }` with base names (3:
//     signatures as { keyName, sig }); without the flag the deprecation warning 2.33 prints;
//   - `config show`, `store info`, `flake update NAME… --flake REF` translated for 2.8, and the
//     forms newer Nix deprecates (`show-config`, `store ping`, `flake lock --update-input`)
//     refused, stricter than Nix, so a test proves oscd chose the new form;
//   - stderr in the newer wordings of the refusals oscd must recognise (unsigned substitute,
//     connection lost, platform mismatch, builder failure), in plain text and inside
//     `--log-format internal-json` messages (with 2.30's colours).
// Plain JavaScript: it runs in simulated hosts and over SSH, where no TypeScript loader is.
import { spawn } from "node:child_process";
import { join } from "node:path";

const [realDir, presented, tool, ...args] = process.argv.slice(2);
const real = join(realDir, tool);
const STORE = "/nix/store";
const ESC = String.fromCharCode(27);
const magenta = (s) => `${ESC}[35;1m${s}${ESC}[0m`;
const red = (s) => `${ESC}[31;1m${s}${ESC}[0m`;

function fail(message) {
  process.stderr.write(`error: ${message}\n`);
  process.exit(1);
}

// Options that take values and may come before the subcommand.
const VALUED = new Set(["--option", "--extra-experimental-features", "--experimental-features", "--store", "--log-format"]);
const TWO_VALUES = new Set(["--option"]);

function subcommandAt(argv) {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (TWO_VALUES.has(a)) i += 2;
    else if (VALUED.has(a)) i += 1;
    else if (!a.startsWith("-")) return i;
  }
  return -1;
}

/** The command line for the real Nix 2.8, and how to present its output. */
function translate(argv) {
  if (argv.includes("--version") && subcommandAt(argv) < 0) return { version: true };
  if (tool !== "nix") return { argv };
  const i = subcommandAt(argv);
  if (i < 0) return { argv };
  const head = argv.slice(0, i);
  const sub = argv[i];
  const rest = argv.slice(i + 1);
  const next = rest[0];
  if (sub === "show-config") fail("'show-config' is a deprecated alias for 'config show' (oscd test harness: deprecated forms are refused here)");
  if (sub === "config" && next === "show") return { argv: [...head, "show-config", ...rest.slice(1)] };
  if (sub === "store" && next === "ping") fail("'store ping' is a deprecated alias for 'store info' (oscd test harness: deprecated forms are refused here)");
  if (sub === "store" && next === "info") return { argv: [...head, "store", "ping", ...rest.slice(1)] };
  if (sub === "flake" && next === "lock" && rest.includes("--update-input")) fail("'--update-input' is deprecated: use 'nix flake update NAME' (oscd test harness: deprecated forms are refused here)");
  if (sub === "flake" && next === "update") {
    const words = rest.slice(1);
    const f = words.indexOf("--flake");
    const ref = f >= 0 ? words[f + 1] : ".";
    const names = words.filter((w, k) => !w.startsWith("-") && !(f >= 0 && (k === f + 1)));
    const flags = words.filter((w, k) => w.startsWith("-") && w !== "--flake" && !(f >= 0 && k === f + 1));
    if (names.length === 0) return { argv: [...head, "flake", "update", ...flags, ref] };
    return { argv: [...head, "flake", "lock", ...names.flatMap((n) => ["--update-input", n]), ...flags, ref] };
  }
  if (sub === "path-info" && rest.includes("--json")) {
    const k = rest.indexOf("--json-format");
    const format = k >= 0 ? Number(rest[k + 1]) : undefined;
    const kept = k >= 0 ? [...rest.slice(0, k), ...rest.slice(k + 2)] : rest;
    return { argv: [...head, "path-info", ...kept], pathInfoFormat: format ?? 1, warnFormat: format === undefined };
  }
  return { argv };
}

const base = (p) => (p.startsWith(`${STORE}/`) ? p.slice(STORE.length + 1) : p);

/** 2.8's `fixed:r:sha256:<nix32>` / `text:sha256:…` as 2.33's structured content address. */
function structuredCa(ca) {
  if (!ca) return null;
  const m = /^(fixed|text):(r:)?(.*)$/.exec(ca);
  if (!m) return { method: "flat", hash: ca };
  return { method: m[1] === "text" ? "text" : m[2] ? "nar" : "flat", hash: m[3] };
}

function pathInfoAs(format, text) {
  const list = JSON.parse(text);
  const byKey = {};
  for (const e of list) {
    const key = format === 1 ? e.path : base(e.path);
    if (e.valid === false) {
      byKey[key] = null;
      continue;
    }
    const out = {
      version: format,
      storeDir: STORE,
      narHash: e.narHash,
      narSize: e.narSize,
      references: format === 1 ? e.references : e.references.map(base),
      ca: format === 1 ? (e.ca ?? null) : structuredCa(e.ca),
      deriver: e.deriver ? (format === 1 ? e.deriver : base(e.deriver)) : null,
      registrationTime: e.registrationTime ?? null,
      ultimate: e.ultimate ?? false,
      signatures:
        format === 3
          ? (e.signatures ?? []).map((s) => ({ keyName: s.slice(0, s.indexOf(":")), sig: s.slice(s.indexOf(":") + 1) }))
          : (e.signatures ?? []),
    };
    for (const f of ["closureSize", "url", "downloadHash", "downloadSize", "closureDownloadSize"]) if (e[f] !== undefined) out[f] = e[f];
    if (e.url !== undefined) out.compression = /\.nar\.([a-z0-9]+)$/.exec(e.url)?.[1] ?? "none";
    byKey[key] = out;
  }
  return format === 1 ? byKey : { version: format, storeDir: STORE, info: byKey };
}

/**
 * 2.8's words for one message as the presented release says them: `coloured` inside JSON log
 * messages (Nix 2.30+ colours paths and reasons there), plain on stderr (Nix strips colours
 * when stderr is no terminal).
 */
function newerWords(msg, coloured) {
  const m = coloured ? magenta : (s) => s;
  const r = coloured ? red : (s) => s;
  const indent = "\n       ";
  return msg
    .replace(/the substitute for '([^']*)' from '([^']*)' is not signed by any of the keys in 'trusted-public-keys'/, "ignoring substitute for '$1' from '$2', as it's not signed by any of the keys in 'trusted-public-keys'")
    .replace(/lacks a valid signature/, "lacks a signature by a trusted key")
    .replace(/unexpected end-of-file/, "Nix daemon disconnected unexpectedly (maybe it crashed?)")
    .replace(/don't know how to open Nix store '([a-z0-9+-]+):\/\/[^']*'/, "don't know how to open Nix store with scheme '$1'")
    .replace(/the flag '--update-input ([^']*)' does not match any input/, "'$1' does not match any input of this flake")
    .replace(
      /a '([^']*)' with features \{[^}]*\} is required to build '([^']*)', but I am a '([^']*)' with features \{[^}]*\}/,
      (_, want, drv, have) => `Cannot build '${m(drv)}'.${indent}Reason: ${r("platform mismatch")}${indent}Required system: '${m(want)}'${indent}Current system: '${m(have)}'`,
    )
    .replace(/builder for '([^']*)' failed with exit code (\d+);?/, (_, drv, code) => `Cannot build '${m(drv)}'.${indent}Reason: ${r(`builder failed with exit code ${code}`)}.`)
    .replace(/(\d+) dependencies of derivation '([^']*)' failed to build/, (_, n, drv) => `Cannot build '${m(drv)}'.${indent}Reason: ${r(`${n} ${n === "1" ? "dependency" : "dependencies"} failed`)}.`)
    .replace(/^(\s*)last (\d+) log lines:/m, "$1Last $2 log lines:");
}

function rewriteStderrLine(line) {
  if (line.startsWith("@nix ")) {
    try {
      const ev = JSON.parse(line.slice(5));
      if (ev.action === "msg" && typeof ev.msg === "string") {
        ev.msg = newerWords(ev.msg, true);
        // 2.30+ adds these beside every message.
        ev.raw_msg ??= ev.msg;
        return `@nix ${JSON.stringify(ev)}`;
      }
    } catch {
      // not JSON: as it is
    }
    return line;
  }
  return newerWords(line, false);
}

const t = translate(args);
if (t.version) {
  process.stdout.write(`${tool} (Nix) ${presented}\n`);
  process.exit(0);
}
if (t.warnFormat) {
  process.stderr.write("warning: '--json' without '--json-format' is deprecated; please specify '--json-format 1' or '--json-format 2'. This will become an error in a future release.\n");
}
const child = spawn(real, t.argv, { stdio: ["inherit", t.pathInfoFormat ? "pipe" : "inherit", "pipe"] });
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => child.kill(sig));
let out = "";
child.stdout?.on("data", (d) => (out += d.toString()));
let pending = "";
child.stderr.on("data", (d) => {
  pending += d.toString();
  const lines = pending.split("\n");
  pending = lines.pop() ?? "";
  if (lines.length > 0) process.stderr.write(lines.map(rewriteStderrLine).join("\n") + "\n");
});
child.on("close", (code, signal) => {
  if (pending) process.stderr.write(rewriteStderrLine(pending));
  if (t.pathInfoFormat && code === 0) {
    try {
      process.stdout.write(JSON.stringify(pathInfoAs(t.pathInfoFormat, out)) + "\n");
    } catch (e) {
      fail(`oscd test harness: cannot rewrite path-info output: ${e.message}`);
    }
  } else if (t.pathInfoFormat) process.stdout.write(out);
  if (signal) process.kill(process.pid, signal);
  process.exit(code ?? 1);
});
child.on("error", (e) => fail(`oscd test harness: cannot run ${real}: ${e.message}`));
