import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type Readable, Transform, type TransformCallback } from 'node:stream';
import { Busboy, type BusboyConfig, type BusboyInstance } from '@fastify/busboy';
import { fileTypeFromBuffer } from 'file-type';
import { createGraphQLError, type GraphQLParams } from 'graphql-yoga';
import type { BodyLimits } from '../graphql/body-limit.js';
import { PROBE_PREFIX_BYTES } from '../media/probe.js';
import { inputKey } from '../media/store.js';
import { MAX_UPLOAD_BYTES, StreamedUpload } from '../media/streamed-upload.js';
import { ObjectTooLargeError } from '../storage/metering.js';
import type { ObjectStore } from '../storage/object-store.js';

export { MAX_UPLOAD_BYTES };

export interface MultipartOptions {
  objects: ObjectStore;
  tenantId: string;
  limits: BodyLimits;
  /** Default MAX_UPLOAD_BYTES. */
  maxFileBytes?: number;
}

/** A GraphQL multipart request whose files are in the object store, as yoga's params. */
export interface ParsedMultipart {
  params: GraphQLParams;
  /** Every file stored (and those refused as too large, which have no object). */
  uploads: StreamedUpload[];
}

export function isMultipart(req: IncomingMessage): boolean {
  return /^multipart\/form-data\b/i.test(req.headers['content-type'] ?? '');
}

/**
 * Parses a GraphQL multipart request (graphql-multipart-request-spec) as it arrives, streaming each
 * file into the object store (`inputs/{tenantId}/{id}`) while its size and SHA-256 are taken — a file
 * is never whole in memory; only its first PROBE_PREFIX_BYTES are kept, for its type. Returns the
 * operation with each mapped variable replaced by its StreamedUpload. Throws a GraphQLError (400/413)
 * for a malformed or oversized request, or an Error when the client went away; either way whatever it
 * had stored is deleted first.
 */
export async function parseMultipart(req: IncomingMessage, options: MultipartOptions): Promise<ParsedMultipart> {
  const { objects, tenantId, limits } = options;
  const maxFileBytes = options.maxFileBytes ?? MAX_UPLOAD_BYTES;
  let operations: Record<string, unknown> | undefined;
  let map: Record<string, string[]> | undefined;
  const uploads = new Map<string, StreamedUpload>();
  const written: string[] = [];
  const files = new Set<Readable>();
  const pending: Promise<void>[] = [];
  let failure: Error | null = null;
  let onFailure: (error: Error) => void = () => {};
  const failed = new Promise<void>((resolve) => {
    onFailure = () => resolve();
  });
  const fail = (error: Error) => {
    if (failure) return;
    failure = error;
    req.unpipe();
    for (const file of files) file.destroy(error);
    onFailure(error);
  };

  async function storeFile(field: string, stream: Readable, name: string, declared: string): Promise<void> {
    if (map![field]!.length !== 1) throw badRequest(`the map names more than one variable for file ${field}`);
    const id = randomUUID();
    const key = inputKey(tenantId, id);
    const { prefix, ended } = await readPrefix(stream, PROBE_PREFIX_BYTES);
    const mime = (await fileTypeFromBuffer(prefix))?.mime ?? 'application/octet-stream';
    const facts = { id, storageKey: key, mime, name, type: declared, prefix: prefix.subarray(0, PROBE_PREFIX_BYTES) };
    const gate = new Counter();
    gate.write(prefix);
    if (ended) gate.end();
    else stream.pipe(gate);
    stream.once('error', (error) => gate.destroy(error));
    try {
      const stored = await objects.put(key, gate, { contentType: mime, maxBytes: maxFileBytes });
      written.push(key);
      uploads.set(
        field,
        new StreamedUpload({ ...facts, size: stored.sizeBytes, sha256: stored.sha256, tooLarge: false }, objects),
      );
    } catch (error) {
      // The store's own refusal, or (S3) whatever aborting the multipart upload answered after it.
      if (!(error instanceof ObjectTooLargeError) && gate.bytes <= maxFileBytes) throw error;
      // Over the limit: nothing is stored; the rest is read and dropped so that the client, still
      // sending, gets the answer naming the field rather than a reset connection.
      stream.unpipe(gate);
      const size = maxFileBytes + 1 + (await drain(stream));
      uploads.set(field, new StreamedUpload({ ...facts, size, sha256: '', tooLarge: true }, objects));
    }
  }

  let bb: BusboyInstance;
  try {
    bb = Busboy({
      headers: req.headers as BusboyConfig['headers'],
      limits: { fieldSize: limits.fieldBytes, files: limits.files, fields: 8, parts: 8 + limits.files },
    });
  } catch (error) {
    throw badRequest(`invalid multipart request: ${(error as Error).message}`);
  }
  bb.on('field', (name: string, value: string, _nameTruncated: boolean, valueTruncated: boolean) => {
    if (valueTruncated) return fail(tooLarge(`the ${name} field is over ${limits.fieldBytes} bytes`));
    try {
      if (name === 'operations') operations = parseOperations(value);
      else if (name === 'map') map = parseMap(value);
    } catch (error) {
      fail(error as Error);
    }
  });
  bb.on('file', (field: string, stream: Readable, name: string, _encoding: string, declared: string) => {
    if (failure) return void stream.resume();
    if (!operations || !map) {
      stream.resume();
      return fail(badRequest('the operations and map fields must come before the files'));
    }
    if (!map[field]) return void stream.resume(); // a file no variable names is ignored
    files.add(stream);
    pending.push(
      storeFile(field, stream, name, declared)
        .catch((error: Error) => fail(error))
        .finally(() => files.delete(stream)),
    );
  });
  bb.on('filesLimit', () => fail(tooLarge(`a request may hold at most ${limits.files} files`)));
  bb.on('partsLimit', () => fail(tooLarge('the request has too many parts')));
  bb.on('fieldsLimit', () => fail(tooLarge('the request has too many fields')));
  bb.on('error', (error: Error) => fail(badRequest(`invalid multipart request: ${error.message}`)));
  const finished = new Promise<void>((resolve) => bb.once('finish', () => resolve()));
  req.once('close', () => {
    if (!req.complete) fail(new Error('the client closed the request before its end'));
  });
  req.once('error', (error) => fail(error));
  req.pipe(new ByteLimit(limits.multipartBytes, fail)).pipe(bb);

  await Promise.race([finished, failed]);
  await Promise.allSettled(pending);
  if (!failure && !operations) fail(badRequest('the multipart request has no operations field'));
  if (!failure && !map) fail(badRequest('the multipart request has no map field'));
  if (!failure) {
    try {
      for (const [field, paths] of Object.entries(map!)) {
        const upload = uploads.get(field);
        if (upload) setVariable(operations!, paths[0]!, upload);
      }
    } catch (error) {
      fail(error as Error);
    }
  }
  if (failure) {
    await objects.delete(written).catch(() => {});
    throw failure;
  }
  return { params: operations as GraphQLParams, uploads: [...uploads.values()] };
}

/** Passes bytes through, counting them. */
class Counter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    callback(null, chunk);
  }
}

/** Counts the body's bytes and fails the parse past `limit`. */
class ByteLimit extends Transform {
  private bytes = 0;
  constructor(
    private readonly limit: number,
    private readonly fail: (error: Error) => void,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.limit) {
      this.fail(tooLarge(`Request body too large (the limit is ${this.limit} bytes)`));
      callback();
      return;
    }
    callback(null, chunk);
  }
}

/** The first `n` bytes (or all, when fewer): the stream is left paused after them. */
function readPrefix(stream: Readable, n: number): Promise<{ prefix: Buffer; ended: boolean }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    const cleanup = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onError);
    };
    const done = (ended: boolean) => {
      cleanup();
      if (!ended) stream.pause();
      resolve({ prefix: Buffer.concat(chunks), ended });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
      if (length >= n) done(false);
    };
    const onEnd = () => done(true);
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('error', onError);
  });
}

/** Reads the rest of a stream, dropping it; returns how many bytes that was. */
function drain(stream: Readable): Promise<number> {
  if (stream.readableEnded) return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    let bytes = 0;
    stream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.once('end', () => resolve(bytes));
    stream.once('error', reject);
    stream.resume();
  });
}

function parseOperations(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw badRequest('the operations field is not valid JSON');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw badRequest('the operations field must be one operation (an object)');
  }
  return parsed as Record<string, unknown>;
}

function parseMap(value: string): Record<string, string[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw badRequest('the map field is not valid JSON');
  }
  const valid =
    parsed &&
    typeof parsed === 'object' &&
    !Array.isArray(parsed) &&
    Object.values(parsed).every((v) => Array.isArray(v) && v.every((p) => typeof p === 'string'));
  if (!valid) throw badRequest('the map field must map file names to lists of variable paths');
  return parsed as Record<string, string[]>;
}

/** Puts `upload` at a map path such as `variables.input.image.file` (which must hold null). */
function setVariable(operations: Record<string, unknown>, path: string, upload: StreamedUpload): void {
  const segments = path.split('.');
  if (segments[0] !== 'variables' || segments.length < 2) {
    throw badRequest(`map path ${JSON.stringify(path)} does not name a variable`);
  }
  let target: unknown = operations;
  for (const segment of segments.slice(0, -1)) {
    target = target && typeof target === 'object' ? (target as Record<string, unknown>)[segment] : undefined;
  }
  const last = segments.at(-1)!;
  if (!target || typeof target !== 'object' || (target as Record<string, unknown>)[last] !== null) {
    throw badRequest(`map path ${JSON.stringify(path)} does not name a null variable of the operation`);
  }
  (target as Record<string, unknown>)[last] = upload;
}

const tooLarge = (message: string) =>
  createGraphQLError(message, { extensions: { http: { status: 413 }, code: 'REQUEST_ENTITY_TOO_LARGE' } });
const badRequest = (message: string) =>
  createGraphQLError(message, { extensions: { http: { status: 400 }, code: 'BAD_REQUEST' } });
