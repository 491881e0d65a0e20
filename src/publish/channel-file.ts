import { randomBytes } from "node:crypto";
import { link, mkdir, open, readdir, readFile, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { OscdError } from "../core/errors.js";
import type { PublicKey } from "../nix/index.js";
import { checkHistoryEntry, historySequence, type ChannelLocation, type LocationState } from "./channel.js";
import { checkChannelName, readTrustedManifest, type Manifest } from "../manifest/index.js";
import { MAX_TRUST_BYTES } from "../trust/index.js";

/**
 * A channel in a directory (a file binary cache's `channels/`, or `--manifest-out`):
 * `<channel>.<sequence>.json` is claimed with link(2), which creates a name exclusively and
 * only ever shows a complete file; `<channel>.json` is replaced with rename(2), so a reader
 * sees the old or the new manifest, never a torn one.
 */
export class FileChannel implements ChannelLocation {
  readonly url: string;

  constructor(
    readonly dir: string,
    readonly channel: string,
  ) {
    checkChannelName(channel);
    this.url = `file://${join(dir, `${channel}.json`)}`;
  }

  get currentPath(): string {
    return join(this.dir, `${this.channel}.json`);
  }

  historyPath(sequence: number): string {
    return join(this.dir, `${this.channel}.${sequence}.json`);
  }

  /** Sequences of the history files, highest first. */
  async history(): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw e;
    }
    const re = new RegExp(`^${this.channel.replace(/[-]/g, "\\-")}\\.(\\d+)\\.json$`);
    // A name no manifest can carry (leading zeros, beyond 2^53 - 1) is not history: ignored.
    return names
      .map((n) => re.exec(n)?.[1])
      .map((s) => (s === undefined ? undefined : historySequence(s)))
      .filter((s): s is number => s !== undefined)
      .sort((a, b) => b - a);
  }

  /** Reads and verifies a history entry, and refuses one whose content is not its own sequence. */
  private async readHistory(sequence: number, trusted: readonly PublicKey[]): Promise<{ manifest: Manifest; signer: PublicKey; text: string } | undefined> {
    const path = this.historyPath(sequence);
    const r = await this.readVerified(path, trusted);
    if (r) checkHistoryEntry(path, sequence, r.manifest);
    return r;
  }

  private async readVerified(path: string, trusted: readonly PublicKey[]): Promise<{ manifest: Manifest; signer: PublicKey; text: string } | undefined> {
    let text: string;
    try {
      text = await readFile(path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new OscdError("manifest-unreadable", `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
    }
    const r = readTrustedManifest(text, trusted, path);
    if (r.manifest.channel !== this.channel) {
      throw new OscdError("manifest-channel", `${path} is a manifest of channel ${r.manifest.channel}, not ${this.channel}`, { exitCode: 3 });
    }
    return { ...r, text };
  }

  async state(trusted: readonly PublicKey[]): Promise<LocationState> {
    const hist = await this.history();
    const current = await this.readVerified(this.currentPath, trusted);
    const top = hist[0];
    const newest = top !== undefined && top > (current?.manifest.sequence ?? 0) ? await this.readHistory(top, trusted) : undefined;
    const pick = newest ?? current;
    return {
      latest: pick?.manifest,
      signer: pick?.signer,
      currentSequence: current?.manifest.sequence,
      highestSequence: Math.max(top ?? 0, current?.manifest.sequence ?? 0),
    };
  }

  async trustRoot(): Promise<string | undefined> {
    const path = join(this.dir, "trust", "root.json");
    try {
      const buf = await readFile(path);
      if (buf.length > MAX_TRUST_BYTES) throw new OscdError("trust-too-large", `${path} is larger than any trust root`, { exitCode: 3 });
      return buf.toString("utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw e;
    }
  }

  private tempName(): string {
    return join(this.dir, `.${this.channel}.json.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  }

  /** Writes a complete file under a temporary name (flushed to disk) and returns the name. */
  private async writeTemp(text: string): Promise<string> {
    await mkdir(this.dir, { recursive: true });
    const tmp = this.tempName();
    const fh = await open(tmp, "wx", 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return tmp;
  }

  async claim(m: Manifest, text: string): Promise<boolean> {
    const tmp = await this.writeTemp(text);
    try {
      await link(tmp, this.historyPath(m.sequence));
      await this.syncDir();
      return true;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
      throw e;
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
  }

  /**
   * Moves `<channel>.json` to the highest history entry. Two publishes may rename in either
   * order; each checks again after its rename, so the last one to act leaves the highest.
   * The current file is a copy, not a link: editing it in place never changes the history.
   */
  async settle(trusted: readonly PublicKey[]): Promise<void> {
    for (let i = 0; i < 20; i++) {
      const top = (await this.history())[0];
      if (top === undefined) return;
      let current = 0;
      try {
        current = (await this.readVerified(this.currentPath, trusted))?.manifest.sequence ?? 0;
      } catch {
        current = 0; // unreadable or unsigned: replaced by the newest signed one
      }
      if (current >= top) return;
      // Only a verified entry that is its own sequence becomes current.
      const entry = await this.readHistory(top, trusted);
      if (!entry) return;
      const tmp = await this.writeTemp(entry.text);
      try {
        await rename(tmp, this.currentPath);
      } finally {
        await unlink(tmp).catch(() => undefined);
      }
      await this.syncDir();
    }
  }

  private async syncDir(): Promise<void> {
    const d = await open(this.dir, "r");
    try {
      await d.sync();
    } catch {
      // Some file systems cannot fsync a directory; the rename is still atomic.
    } finally {
      await d.close();
    }
  }
}
