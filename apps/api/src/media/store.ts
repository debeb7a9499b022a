import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mediaObjects, serverSecrets, type MediaObjectRow } from '@clipwire/schema/tables';
import { eq, inArray, sql } from 'drizzle-orm';
import type { PgInsertValue } from 'drizzle-orm/pg-core';
import type { Database, DbOrTx } from '../db/client.js';
import { driverValues, fieldPlaceholders, listPlaceholders, listValues, run } from '../db/prepared.js';

const SECRET_NAME = 'media-url-signing-key';
/** Providers fetch inputs within minutes of a submit; a day covers their retries and queues. */
export const MEDIA_URL_TTL_SECONDS = 24 * 60 * 60;

/**
 * Inline and uploaded media, kept in the database so any process can submit the task later, and
 * served to URL-only providers at `/media/{id}?exp=…&sig=…` (HMAC-SHA256, expiring).
 */
export class MediaStore {
  private constructor(
    private readonly db: Database,
    private readonly key: Buffer,
  ) {}

  /** Uses `secret` when given; otherwise the deployment's shared key, created on first boot. */
  static async open(db: Database, secret?: string): Promise<MediaStore> {
    if (secret) return new MediaStore(db, Buffer.from(secret, 'utf8'));
    await db
      .insert(serverSecrets)
      .values({ name: SECRET_NAME, value: randomBytes(32).toString('base64url') })
      .onConflictDoNothing();
    const [row] = await db.select().from(serverSecrets).where(eq(serverSecrets.name, SECRET_NAME));
    if (!row) throw new Error('media signing key missing after insert');
    return new MediaStore(db, Buffer.from(row.value, 'base64url'));
  }

  async put(
    db: DbOrTx,
    tenantId: string,
    { bytes, mime, sha256 }: { bytes: Buffer; mime: string; sha256: string },
  ): Promise<string> {
    const fields = { tenantId, bytes, mime, sizeBytes: bytes.length, sha256 };
    const [row] = await run(
      db,
      'media-insert',
      (db) =>
        db
          .insert(mediaObjects)
          .values(fieldPlaceholders(Object.keys(fields)) as PgInsertValue<typeof mediaObjects>)
          .returning({ id: mediaObjects.id }),
      driverValues(mediaObjects, fields),
    );
    if (!row) throw new Error('media insert returned no row');
    return row.id;
  }

  async get(id: string): Promise<MediaObjectRow | null> {
    const [row] = await run(
      this.db,
      'media-by-id',
      (db) =>
        db
          .select()
          .from(mediaObjects)
          .where(eq(mediaObjects.id, sql.placeholder('id')))
          .limit(1),
      { id },
    );
    return row ?? null;
  }

  /** Several media objects in one statement (on the database or inside a transaction), by id. */
  async getMany(db: DbOrTx, ids: readonly string[]): Promise<Map<string, MediaObjectRow>> {
    if (ids.length === 0) return new Map();
    const rows = await run(
      db,
      `media-by-ids:${ids.length}`,
      (db) =>
        db
          .select()
          .from(mediaObjects)
          .where(inArray(mediaObjects.id, listPlaceholders('id', ids.length))),
      listValues('id', ids),
    );
    return new Map(rows.map((row) => [row.id, row]));
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
