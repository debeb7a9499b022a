import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import { mediaObjects, serverSecrets } from '@clipwire/schema/tables';
import { eq, getTableColumns, inArray, sql } from 'drizzle-orm';
import type { PgInsertValue } from 'drizzle-orm/pg-core';
import type { Database, DbOrTx } from '../db/client.js';
import { driverValues, fieldPlaceholders, listPlaceholders, listValues, run } from '../db/prepared.js';
import { resolveRange } from '../storage/metering.js';
import type { ObjectBody, ObjectStore } from '../storage/object-store.js';
import type { PendingUpload } from '../tasks/intake.js';

const SECRET_NAME = 'media-url-signing-key';
/** Providers fetch inputs within minutes of a submit; a day covers their retries and queues. */
export const MEDIA_URL_TTL_SECONDS = 24 * 60 * 60;

/** A media object's row without its legacy bytes: what every reader but the upgrade needs. */
const { bytes: _bytes, ...metaColumns } = getTableColumns(mediaObjects);
export type MediaMeta = Omit<typeof mediaObjects.$inferSelect, 'bytes'>;

/** Bytes a create sends to the store before its transaction: the row it will insert, and the object. */
export interface StoredUpload {
  id: string;
  storageKey: string;
  mime: string;
  sizeBytes: number;
  sha256: string;
}

/** Where a media object's bytes are, for a reader: in the store, gone (deleted), or nowhere (unknown id). */
export type MediaBody = { body: ObjectBody } | { gone: true } | null;

/** The key of a stored input: per tenant, by media id. */
export function inputKey(tenantId: string, mediaId: string): string {
  return `inputs/${tenantId}/${mediaId}`;
}

/**
 * Inline and uploaded media: bytes in the object store (`inputs/{tenantId}/{id}`), metadata in
 * `media_objects`, so any process can submit the task later; served to URL-only providers at
 * `/media/{id}?exp=…&sig=…` (HMAC-SHA256, expiring) or, from an S3 store outsiders reach, at a
 * presigned URL.
 */
export class MediaStore {
  private constructor(
    private readonly db: Database,
    readonly objects: ObjectStore,
    private readonly key: Buffer,
  ) {}

  /** Uses `secret` when given; otherwise the deployment's shared key, created on first boot. */
  static async open(db: Database, objects: ObjectStore, secret?: string): Promise<MediaStore> {
    if (secret) return new MediaStore(db, objects, Buffer.from(secret, 'utf8'));
    await db
      .insert(serverSecrets)
      .values({ name: SECRET_NAME, value: randomBytes(32).toString('base64url') })
      .onConflictDoNothing();
    const [row] = await db.select().from(serverSecrets).where(eq(serverSecrets.name, SECRET_NAME));
    if (!row) throw new Error('media signing key missing after insert');
    return new MediaStore(db, objects, Buffer.from(row.value, 'base64url'));
  }

  /** Writes an upload's bytes to the store, before the create's transaction (which records it with `record`). */
  async upload(tenantId: string, upload: PendingUpload): Promise<StoredUpload> {
    const { mime } = upload;
    if ('streamed' in upload) {
      // Already in the store (the multipart parser streamed it there): nothing more to write.
      const { id, storageKey, size, sha256 } = upload.streamed;
      return { id, storageKey, mime, sizeBytes: size, sha256 };
    }
    const { bytes } = upload;
    const id = randomUUID();
    const stored = await this.objects.put(inputKey(tenantId, id), bytes, { contentType: mime });
    return { id, storageKey: stored.key, mime, sizeBytes: stored.sizeBytes, sha256: stored.sha256 };
  }

  /** Removes objects `upload` wrote for a create that did not commit. Never throws. */
  async discard(uploads: readonly StoredUpload[]): Promise<void> {
    if (uploads.length > 0) await this.objects.delete(uploads.map((u) => u.storageKey)).catch(() => {});
  }

  /** The stored upload's row, inside the create's transaction. */
  async record(db: DbOrTx, tenantId: string, taskId: string, upload: StoredUpload): Promise<void> {
    const fields = { ...upload, tenantId, taskId };
    await run(
      db,
      'media-insert',
      (db) =>
        db.insert(mediaObjects).values(fieldPlaceholders(Object.keys(fields)) as PgInsertValue<typeof mediaObjects>),
      driverValues(mediaObjects, fields),
    );
  }

  async get(id: string): Promise<MediaMeta | null> {
    const [row] = await run(
      this.db,
      'media-by-id',
      (db) =>
        db
          .select(metaColumns)
          .from(mediaObjects)
          .where(eq(mediaObjects.id, sql.placeholder('id')))
          .limit(1),
      { id },
    );
    return row ?? null;
  }

  /** Several media objects in one statement (on the database or inside a transaction), by id. */
  async getMany(db: DbOrTx, ids: readonly string[]): Promise<Map<string, MediaMeta>> {
    if (ids.length === 0) return new Map();
    const rows = await run(
      db,
      `media-by-ids:${ids.length}`,
      (db) =>
        db
          .select(metaColumns)
          .from(mediaObjects)
          .where(inArray(mediaObjects.id, listPlaceholders('id', ids.length))),
      listValues('id', ids),
    );
    return new Map(rows.map((row) => [row.id, row]));
  }

  /**
   * The bytes (or an inclusive range of them) as a stream; `{ gone }` once deleted. A legacy row not yet
   * moved to the store is read from the database. Throws RangeNotSatisfiableError for a range past the end.
   */
  async open(media: MediaMeta, range?: { start: number; end?: number }): Promise<MediaBody> {
    if (media.deletedAt) return { gone: true };
    if (media.storageKey) {
      const body = await this.objects.get(media.storageKey, range);
      // Its row says stored, the store has no such object: deleted (retention, erasure) meanwhile.
      return body ? { body } : { gone: true };
    }
    const legacy = await this.legacyBytes(media.id);
    if (!legacy) return { gone: true };
    const served = resolveRange(range, legacy.length);
    const part = served ? legacy.subarray(served.start, served.end + 1) : legacy;
    return {
      body: {
        body: Readable.from([part]),
        sizeBytes: legacy.length,
        contentType: media.mime,
        ...(served ? { range: served } : {}),
      },
    };
  }

  /** The whole bytes, for providers that take media inline (base64). */
  async bytes(media: MediaMeta): Promise<Buffer> {
    const opened = await this.open(media);
    if (!opened || 'gone' in opened) throw new Error(`stored media ${media.id} has been deleted`);
    const chunks: Buffer[] = [];
    for await (const chunk of opened.body.body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }

  private async legacyBytes(id: string): Promise<Buffer | null> {
    const [row] = await run(
      this.db,
      'media-legacy-bytes',
      (db) =>
        db
          .select({ bytes: mediaObjects.bytes })
          .from(mediaObjects)
          .where(eq(mediaObjects.id, sql.placeholder('id'))),
      { id },
    );
    return row?.bytes ?? null;
  }

  /**
   * A link a provider can fetch the media from: a presigned URL when the store gives one outsiders
   * reach (S3 with a public endpoint), else the signed /media path under `baseUrl`.
   */
  async providerUrl(media: MediaMeta | undefined, id: string, baseUrl: string): Promise<string> {
    const presigned = media?.storageKey ? await this.objects.presignGet(media.storageKey, MEDIA_URL_TTL_SECONDS) : null;
    return presigned ?? `${baseUrl}${this.signedPath(id)}`;
  }

  signedPath(id: string, nowMs = Date.now(), ttlSeconds = MEDIA_URL_TTL_SECONDS): string {
    const exp = Math.floor(nowMs / 1000) + ttlSeconds;
    return `/media/${id}?exp=${exp}&sig=${this.sign(id, exp)}`;
  }

  /** 'ok', or why the link is refused. Constant-time on the signature. */
  verify(id: string, exp: string | null, sig: string | null, nowMs = Date.now()): 'ok' | 'invalid' | 'expired' {
    if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return 'invalid';
    const expected = Buffer.from(this.sign(id, Number(exp)));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return Number(exp) * 1000 < nowMs ? 'expired' : 'ok';
  }

  /** An HMAC of `value` with this key, for Clipwire's other signed links (archived outputs). */
  mac(value: string): string {
    return createHmac('sha256', this.key).update(value).digest('base64url');
  }

  private sign(id: string, exp: number): string {
    return createHmac('sha256', this.key).update(`${id}.${exp}`).digest('base64url');
  }
}
