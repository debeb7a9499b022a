import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import { asReadable, checkKey, Meter, RangeNotSatisfiableError } from './metering.js';
import type { ListedObject, ObjectBody, ObjectStore, PutOptions, StoredObject } from './object-store.js';

export interface S3Settings {
  /** An S3-compatible endpoint (MinIO, R2, …); AWS itself when unset. */
  endpoint: string | undefined;
  bucket: string;
  region: string;
  accessKeyId: string | undefined;
  secretAccessKey: string | undefined;
  forcePathStyle: boolean;
  /**
   * Presigned URLs, for the endpoint outsiders reach (`endpoint` undefined: AWS's own), or null: none
   * (the endpoint is on a private network; providers get the signed /media link instead).
   */
  presign: { endpoint: string | undefined } | null;
}

/** S3 allows at most 1000 keys per DeleteObjects. */
const DELETE_BATCH = 1000;

/**
 * Objects in one bucket of an S3-compatible store. A put streams through `@aws-sdk/lib-storage`'s
 * Upload (one PutObject for small bodies, a multipart upload otherwise, aborted on failure): either
 * way the object appears whole or not at all.
 */
export class S3Store implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  /** Signs URLs for the public endpoint (the signature covers the host). */
  private readonly signer: S3Client | null;

  constructor(private readonly settings: S3Settings) {
    this.client = clientFor(settings, settings.endpoint);
    this.signer =
      settings.presign === null
        ? null
        : settings.presign.endpoint === settings.endpoint
          ? this.client
          : clientFor(settings, settings.presign.endpoint);
  }

  async put(key: string, body: Readable | Buffer, options: PutOptions): Promise<StoredObject> {
    const meter = new Meter(options.maxBytes);
    const source = asReadable(body);
    source.once('error', (error) => meter.destroy(error));
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.settings.bucket,
        Key: checkKey(key),
        Body: source.pipe(meter),
        ContentType: options.contentType,
      },
      leavePartsOnError: false,
    });
    await upload.done();
    return { key, sizeBytes: meter.sizeBytes, sha256: meter.digest(), contentType: options.contentType };
  }

  async get(key: string, range?: { start: number; end?: number }): Promise<ObjectBody | null> {
    if (range && range.end !== undefined && range.end < range.start) {
      const head = await this.head(key);
      if (!head) return null;
      throw new RangeNotSatisfiableError(head.sizeBytes);
    }
    try {
      const out = await this.client.send(
        new GetObjectCommand({
          Bucket: this.settings.bucket,
          Key: checkKey(key),
          ...(range ? { Range: `bytes=${range.start}-${range.end ?? ''}` } : {}),
        }),
      );
      const body = out.Body as Readable;
      if (!range) {
        return { body, sizeBytes: out.ContentLength ?? 0, contentType: out.ContentType ?? 'application/octet-stream' };
      }
      // "bytes 0-9/100": the part served and the whole size.
      const match = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(out.ContentRange ?? '');
      if (!match) throw new Error(`S3 answered a range request for ${key} without a Content-Range`);
      return {
        body,
        sizeBytes: Number(match[3]),
        contentType: out.ContentType ?? 'application/octet-stream',
        range: { start: Number(match[1]), end: Number(match[2]) },
      };
    } catch (error) {
      if (isStatus(error, 404)) return null;
      if (isStatus(error, 416)) {
        const head = await this.head(key);
        if (!head) return null;
        throw new RangeNotSatisfiableError(head.sizeBytes);
      }
      throw error;
    }
  }

  async head(key: string): Promise<{ sizeBytes: number; contentType: string } | null> {
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.settings.bucket, Key: checkKey(key) }));
      return { sizeBytes: out.ContentLength ?? 0, contentType: out.ContentType ?? 'application/octet-stream' };
    } catch (error) {
      if (isStatus(error, 404)) return null;
      throw error;
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += DELETE_BATCH) {
      const batch = keys.slice(i, i + DELETE_BATCH).map((k) => ({ Key: checkKey(k) }));
      const out = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.settings.bucket, Delete: { Objects: batch, Quiet: true } }),
      );
      const failed = (out.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) throw new Error(`S3 could not delete ${failed.length} object(s): ${failed[0]?.Code}`);
    }
  }

  async *list(prefix: string): AsyncIterable<ListedObject[]> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.settings.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      const objects = (page.Contents ?? []).flatMap((o) =>
        o.Key ? [{ key: o.Key, sizeBytes: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) }] : [],
      );
      if (objects.length > 0) yield objects;
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async deletePrefix(prefix: string): Promise<number> {
    let deleted = 0;
    for await (const page of this.list(prefix)) {
      await this.delete(page.map((o) => o.key));
      deleted += page.length;
    }
    return deleted;
  }

  async presignGet(key: string, ttlSeconds: number): Promise<string | null> {
    if (!this.signer) return null;
    return getSignedUrl(this.signer, new GetObjectCommand({ Bucket: this.settings.bucket, Key: checkKey(key) }), {
      expiresIn: ttlSeconds,
    });
  }

  async close(): Promise<void> {
    this.client.destroy();
    if (this.signer && this.signer !== this.client) this.signer.destroy();
  }
}

function clientFor(settings: S3Settings, endpoint: string | undefined): S3Client {
  return new S3Client({
    region: settings.region,
    forcePathStyle: settings.forcePathStyle,
    ...(endpoint ? { endpoint } : {}),
    ...(settings.accessKeyId && settings.secretAccessKey
      ? { credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey } }
      : {}),
    // S3-compatible stores do not all take the SDK's default CRC32 trailers on streamed bodies.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

function isStatus(error: unknown, status: number): boolean {
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === status;
}
