/** The demo's command line: it keeps running in a terminal and ends by itself otherwise. */
export interface DemoOptions {
  keep: boolean;
  facts?: string;
}

export function parseArgs(argv: readonly string[], isTTY: boolean): DemoOptions {
  const o: DemoOptions = { keep: isTTY };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--keep") o.keep = true;
    else if (a === "--no-keep") o.keep = false;
    else if (a === "--facts" && argv[i + 1]) o.facts = argv[++i];
    else throw new Error(`unknown argument ${JSON.stringify(a)}: the demo takes --keep, --no-keep and --facts FILE`);
  }
  return o;
}
