import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cliJobRunner } from "../../../src/server/job-runner.js";

/** The webhook jobs as oscd command lines: argument arrays, the event in a file, the manifest read back. */
const dir = mkdtempSync(join(tmpdir(), "oscd-jobrunner-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// A stand-in for oscd: prints its arguments one per line; for publish, writes a manifest where --manifest-out says.
const fake = join(dir, "oscd.sh");
writeFileSync(fake, `for a in "$@"; do echo "arg:$a"; done\nif [ "$1" = publish ]; then mkdir -p "$7"; echo '{"m":1}' > "$7/main.json"; fi\nif [ "$1" = release ]; then cat "$3"; echo; fi\n`);

describe("cliJobRunner", () => {
  const runner = cliJobRunner({ oscd: ["/bin/sh", fake], repo: dir, channel: "main", timeoutMs: 10_000 });

  it("runs release from-event with the payload in a file, never on the command line", async () => {
    const r = await runner({ id: "j1", kind: "release", input: { payload: { action: "closed", evil: "$(touch /tmp/pwned)" } } });
    expect(r.ok).toBe(true);
    expect(r.log).toMatch(/arg:release\narg:from-event\narg:\/tmp\/oscd-job-[^\n]+\/event\.json\narg:--push\narg:-C\narg:/);
    expect(r.log).toContain('{"action":"closed","evil":"$(touch /tmp/pwned)"}');
  });

  it("runs publish with --manifest-out and hands back the manifest it wrote", async () => {
    const r = await runner({ id: "j2", kind: "publish", input: {} });
    expect(r).toMatchObject({ ok: true, manifest: '{"m":1}\n' });
    expect(r.log).toContain("arg:--channel\narg:main\narg:--manifest-out");
  });
});
