import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';

/** A write refused because more bytes arrived than its `maxBytes`: nothing of it is kept. */
export class ObjectTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`object exceeds its limit of ${maxBytes} bytes`);
    this.name = 'ObjectTooLargeError';
  }
}

/** A range that starts at or past the end of the object (HTTP 416). */
export class RangeNotSatisfiableError extends Error {
  constructor(readonly sizeBytes: number) {
    super(`range not satisfiable: the object is ${sizeBytes} bytes`);
    this.name = 'RangeNotSatisfiableError';
  }
}

/**
 * Passes bytes through while counting them and taking their SHA-256; fails with ObjectTooLargeError
 * as soon as more than `maxBytes` have passed.
 */
export class Meter extends Transform {
  private readonly hash = createHash('sha256');
  sizeBytes = 0;

  constructor(private readonly maxBytes = Number.POSITIVE_INFINITY) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.sizeBytes += chunk.length;
    if (this.sizeBytes > this.maxBytes) {
      callback(new ObjectTooLargeError(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    callback(null, chunk);
  }

  /** Hex SHA-256 of everything that passed; call once the stream has ended. */
  digest(): string {
    return this.hash.digest('hex');
  }
}

/** A body given as a Buffer or a stream, as a stream. */
export function asReadable(body: Readable | Buffer): Readable {
  return Buffer.isBuffer(body) ? Readable.from([body]) : body;
}

/**
 * Keys are relative paths of non-empty segments of safe characters (`inputs/{tenantId}/{id}`): never
 * absolute, never `.` or `..`, so a key cannot name anything outside the store.
 */
export function checkKey(key: string): string {
  if (!/^[A-Za-z0-9_.=-]+(\/[A-Za-z0-9_.=-]+)*$/.test(key) || key.split('/').some((s) => /^\.+$/.test(s))) {
    throw new Error(`invalid object key: ${JSON.stringify(key)}`);
  }
  return key;
}

/** Resolves a requested range against the object's size: inclusive bounds, end clamped to the last byte. */
export function resolveRange(
  range: { start: number; end?: number } | undefined,
  sizeBytes: number,
): { start: number; end: number } | undefined {
  if (!range) return undefined;
  if (range.start >= sizeBytes || (range.end !== undefined && range.end < range.start)) {
    throw new RangeNotSatisfiableError(sizeBytes);
  }
  return { start: range.start, end: Math.min(range.end ?? sizeBytes - 1, sizeBytes - 1) };
}
