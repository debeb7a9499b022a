import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { asReadable, checkKey, Meter, resolveRange } from './metering.js';
import type { ListedObject, ObjectBody, ObjectStore, PutOptions, StoredObject } from './object-store.js';

/** Longest content type kept in a file's header line. */
const MAX_TYPE_BYTES = 255;
/** Objects per page of a listing (as S3 pages them). */
const LIST_PAGE = 1000;
/** Written files start with their content type and a newline; the object's bytes follow. */
const TEMP_DIR = '.tmp';

/**
 * Objects as files under one root (`$CLIPWIRE_DATA_DIR/media`): each file holds its content type on a
 * first line, then the bytes. A write goes to a temporary file under `.tmp/` (same file system),
 * flushed to disk, then renamed into place, so a reader sees the whole old object or the whole new one.
 */
export class FsStore implements ObjectStore {
  readonly kind = 'fs' as const;

  private constructor(
    readonly root: string,
    /** A private temporary root, removed on close (an in-memory database's media). */
    private readonly ephemeral: boolean,
  ) {}

  /** `dataDir` is the data dir (media go to `media/` under it); `memory://…` gets a temporary root. */
  static async open(dataDir: string): Promise<FsStore> {
    const ephemeral = dataDir.startsWith('memory://');
    const root = ephemeral ? await mkdtemp(join(tmpdir(), 'clipwire-media-')) : join(dataDir, 'media');
    // Temporary files of writes a crash interrupted are never renamed into place: drop them.
    await rm(join(root, TEMP_DIR), { recursive: true, force: true });
    await mkdir(join(root, TEMP_DIR), { recursive: true });
    return new FsStore(root, ephemeral);
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split('/'));
  }

  async put(key: string, body: Parameters<ObjectStore['put']>[1], options: PutOptions): Promise<StoredObject> {
    const target = this.path(key);
    const header = Buffer.from(`${options.contentType}\n`);
    if (header.length > MAX_TYPE_BYTES + 1 || options.contentType.includes('\n')) {
      throw new Error(`invalid content type for ${key}`);
    }
    const temp = join(this.root, TEMP_DIR, randomUUID());
    const meter = new Meter(options.maxBytes);
    try {
      const out = createWriteStream(temp, { flush: true });
      out.write(header);
      await pipeline(asReadable(body), meter, out);
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    return { key, sizeBytes: meter.sizeBytes, sha256: meter.digest(), contentType: options.contentType };
  }

  /** The header's length and content type, and the object's size; null when there is no such file. */
  private async meta(key: string): Promise<{ offset: number; sizeBytes: number; contentType: string } | null> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.path(key), 'r');
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      const head = Buffer.alloc(Math.min(size, MAX_TYPE_BYTES + 1));
      await handle.read(head, 0, head.length, 0);
      const newline = head.indexOf(0x0a);
      if (newline < 0) throw new Error(`stored object ${key} has no header`);
      return { offset: newline + 1, sizeBytes: size - newline - 1, contentType: head.subarray(0, newline).toString() };
    } finally {
      await handle.close();
    }
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<ObjectBody | null> {
    const meta = await this.meta(key);
    if (!meta) return null;
    const served = resolveRange(range, meta.sizeBytes);
    const start = meta.offset + (served?.start ?? 0);
    const end = meta.offset + (served ? served.end : meta.sizeBytes - 1);
    // An empty object has nothing to read (createReadStream would read from `start` to the end).
    const body =
      meta.sizeBytes === 0 ? createReadStream('/dev/null') : createReadStream(this.path(key), { start, end });
    return { body, sizeBytes: meta.sizeBytes, contentType: meta.contentType, ...(served ? { range: served } : {}) };
  }

  async head(key: string): Promise<{ sizeBytes: number; contentType: string } | null> {
    const meta = await this.meta(key);
    return meta && { sizeBytes: meta.sizeBytes, contentType: meta.contentType };
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) await unlink(this.path(key)).catch(ignoreMissing);
  }

  async *list(prefix: string): AsyncIterable<ListedObject[]> {
    const slash = prefix.lastIndexOf('/');
    const dir = slash < 0 ? this.root : this.path(prefix.slice(0, slash));
    let entries: string[];
    try {
      entries = (await readdir(dir, { recursive: true })) as string[];
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    let page: ListedObject[] = [];
    for (const entry of entries) {
      const full = join(dir, entry);
      const key = relative(this.root, full).split(sep).join('/');
      if (key === TEMP_DIR || key.startsWith(`${TEMP_DIR}/`) || !key.startsWith(prefix)) continue;
      const info = await stat(full).catch(() => null);
      if (!info?.isFile()) continue; // a directory, or deleted since readdir
      const meta = await this.meta(key).catch(() => null);
      if (!meta) continue;
      page.push({ key, sizeBytes: meta.sizeBytes, modifiedAt: info.mtime });
      if (page.length >= LIST_PAGE) {
        yield page;
        page = [];
      }
    }
    if (page.length > 0) yield page;
  }

  async deletePrefix(prefix: string): Promise<number> {
    // The deepest directory the prefix names whole; every key under the prefix is below it.
    const slash = prefix.lastIndexOf('/');
    const dir = slash < 0 ? this.root : this.path(prefix.slice(0, slash));
    let entries: string[];
    try {
      entries = (await readdir(dir, { recursive: true })) as string[];
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    let deleted = 0;
    for (const entry of entries.sort().reverse()) {
      const full = join(dir, entry);
      const key = relative(this.root, full).split(sep).join('/');
      if (key === TEMP_DIR || key.startsWith(`${TEMP_DIR}/`) || !key.startsWith(prefix)) continue;
      const info = await stat(full).catch(() => null);
      if (info?.isFile()) {
        await unlink(full).catch(ignoreMissing);
        deleted++;
      } else if (info?.isDirectory()) {
        await rmdir(full).catch(() => {}); // only when empty
      }
    }
    if (prefix.endsWith('/')) await rmdir(dir).catch(() => {});
    return deleted;
  }

  async presignGet(): Promise<string | null> {
    return null;
  }

  async close(): Promise<void> {
    if (this.ephemeral) await rm(this.root, { recursive: true, force: true });
  }
}

function isMissing(error: unknown): boolean {
  return (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR';
}

function ignoreMissing(error: unknown): void {
  if (!isMissing(error)) throw error;
}
