import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BootUncheckedError, checkBootSpace } from "../../../src/activate/disk-space.js";
import type { HostLayout } from "../../../src/activate/layout.js";

/** The /boot check on systems laid out by hand: a kernel link that leads nowhere is a refusal, never a pass. */
let dir: string;
let layout: HostLayout;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oscd-boot-space-"));
  await mkdir(join(dir, "profiles"));
  await mkdir(join(dir, "boot"));
  layout = { profile: join(dir, "profiles", "system") } as HostLayout;
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function system(name: string, kernel: string | undefined): Promise<string> {
  const top = join(dir, name);
  await mkdir(top);
  if (kernel !== undefined) await symlink(kernel, join(top, "kernel"));
  return top;
}

describe("the /boot space check", () => {
  it("refuses with boot-unchecked when the new system's kernel link leads nowhere", async () => {
    const top = await system("dangling", join(dir, "gone", "bzImage"));
    const e = await checkBootSpace(top, layout, join(dir, "boot")).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BootUncheckedError);
    expect((e as BootUncheckedError).code).toBe("boot-unchecked");
    expect((e as Error).message).toMatch(/^cannot measure the new system's kernel for the \/boot space check \(.*ENOENT.*\); nothing was changed$/);
  });

  it("measures a kernel that is there, and a system without an initrd is what it is", async () => {
    await writeFile(join(dir, "bzImage"), Buffer.alloc(4096));
    const top = await system("whole", join(dir, "bzImage"));
    await expect(checkBootSpace(top, layout, join(dir, "boot"))).resolves.toMatchObject({ needBytes: 4096 });
  });
});
