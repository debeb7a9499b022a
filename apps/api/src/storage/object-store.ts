import type { Readable } from 'node:stream';

/** What a store knows of an object once written. */
export interface StoredObject {
  key: string;
  sizeBytes: number;
  /** Hex SHA-256 of the bytes, taken while they were written. */
  sha256: string;
  contentType: string;
}

/** An object's bytes (or the requested part of them) as a stream. */
export interface ObjectBody {
  body: Readable;
  /** Size of the whole object. */
  sizeBytes: number;
  contentType: string;
  /** Inclusive byte range served, when a range was asked for. */
  range?: { start: number; end: number };
}

/** One entry of a listing. */
export interface ListedObject {
  key: string;
  sizeBytes: number;
  /** When the object was last written (S3 LastModified, a file's mtime). */
  modifiedAt: Date;
}

export interface PutOptions {
  contentType: string;
  /** The write fails (and leaves nothing behind) once more bytes than this arrive. */
  maxBytes?: number;
}

/**
 * Where media bytes live: task inputs and archived outputs. Keys are opaque paths such as
 * `inputs/{tenantId}/{mediaId}` or `outputs/{tenantId}/{taskId}/{name}`; a write is atomic (a reader
 * never sees a partial object) and a delete of a missing key is not an error.
 */
export interface ObjectStore {
  readonly kind: 'fs' | 's3';
  /** Streams `body` to `key`, never holding it whole in memory. Replaces an existing object. */
  put(key: string, body: Readable | Buffer, options: PutOptions): Promise<StoredObject>;
  /** The object, or the inclusive byte range of it; null when there is no such object. */
  get(key: string, range?: { start: number; end?: number }): Promise<ObjectBody | null>;
  /** Size and type without the bytes; null when there is no such object. */
  head(key: string): Promise<{ sizeBytes: number; contentType: string } | null>;
  delete(keys: readonly string[]): Promise<void>;
  /**
   * The objects whose key starts with `prefix`, in pages (S3: up to 1000 keys per page), in no promised
   * order; objects written or deleted while the listing runs may or may not appear.
   */
  list(prefix: string): AsyncIterable<ListedObject[]>;
  /** Deletes every object whose key starts with `prefix`; returns how many were deleted. */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * A time-limited URL a third party can GET the object from directly, or null when this store cannot
   * give one that outsiders reach (the file store; an S3 endpoint on a private network).
   */
  presignGet(key: string, ttlSeconds: number): Promise<string | null>;
  close(): Promise<void>;
}
