import type { ObjectStore } from '../storage/object-store.js';
import { MB } from './limits.js';
import { boxes, ISO_BMFF_MIMES, readBoxHeader } from './iso-bmff.js';
import { type MediaProbe, needsWholeFile, probeMedia } from './probe.js';

/**
 * The most any one uploaded file may hold: the largest input any provider documents (a 100 MB video).
 * A file over it is read no further into the store (the rest of it is dropped as it arrives) and intake
 * refuses it naming its field; the provider's own, smaller limits are checked from the stored size.
 */
export const MAX_UPLOAD_BYTES = 100 * MB;
/** The largest `moov` box read from the end of a video whose movie header is not at its start. */
export const MAX_TAIL_MOOV_BYTES = 16 * 1024 * 1024;
/** Top-level boxes walked (a header read each) looking for `moov`. */
const MAX_TOP_LEVEL_BOXES = 64;

/** What the multipart parser learnt of a file while it streamed it into the object store. */
export interface StreamedUploadFacts {
  /** The media id the object was written for (`inputs/{tenantId}/{id}`). */
  id: string;
  storageKey: string;
  /** Bytes received (for a refused file: at least its limit + 1). */
  size: number;
  /** Hex SHA-256 of the stored bytes ('' when refused). */
  sha256: string;
  /** The type read from the first bytes (the object's content type). */
  mime: string;
  /** The file name the client gave, and the type it declared (neither is trusted). */
  name: string;
  type: string;
  /** The first PROBE_PREFIX_BYTES (or fewer: the whole file). */
  prefix: Buffer;
  /** Over the field's limit: its read was stopped and nothing of it is stored. */
  tooLarge: boolean;
}

/**
 * A file of a GraphQL multipart request, already in the object store: what the `File` scalar and
 * intake receive in place of a whatwg File. Blob-like by shape (`size`, `arrayBuffer`) so the schema's
 * checks take it, but its bytes are never read whole: `read` takes a range from the store. It is never
 * built from JSON — only the multipart parser makes one, so a client cannot name another object.
 */
export class StreamedUpload implements StreamedUploadFacts {
  readonly id: string;
  readonly storageKey: string;
  readonly size: number;
  readonly sha256: string;
  readonly mime: string;
  readonly name: string;
  readonly type: string;
  readonly prefix: Buffer;
  readonly tooLarge: boolean;

  constructor(
    facts: StreamedUploadFacts,
    private readonly objects: ObjectStore,
  ) {
    this.id = facts.id;
    this.storageKey = facts.storageKey;
    this.size = facts.size;
    this.sha256 = facts.sha256;
    this.mime = facts.mime;
    this.name = facts.name;
    this.type = facts.type;
    this.prefix = facts.prefix;
    this.tooLarge = facts.tooLarge;
  }

  /** Refused: the bytes are in the store, to be read by range (see `read`). */
  arrayBuffer(): Promise<ArrayBuffer> {
    return Promise.reject(new Error('a streamed upload is read from the object store by range'));
  }

  /** The inclusive byte range [start, end] of the stored object. */
  async read(start: number, end: number): Promise<Buffer> {
    const object = await this.objects.get(this.storageKey, { start, end });
    if (!object) throw new Error(`streamed upload ${this.storageKey} is missing from the store`);
    const chunks: Buffer[] = [];
    for await (const chunk of object.body) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  }
}

/**
 * Media facts of a streamed upload, read from the store as far as the checks need (see probe.ts):
 * - over `maxBytes` (or refused while streaming): the first bytes and the size, all the check needs;
 * - the first PROBE_PREFIX_BYTES when they settle it (a small file, a faststart video);
 * - a video whose movie header (`moov`) is at its end: the top-level box headers (a few ranged reads)
 *   and that box, at most MAX_TAIL_MOOV_BYTES — never the media data in between;
 * - images and audio otherwise whole, as before (integrity and audio duration need every byte): the
 *   rules bound them (at most 10 MB for images and most audio), and they were within `maxBytes`.
 */
export async function probeStreamed(upload: StreamedUpload, maxBytes: number): Promise<MediaProbe> {
  const { size, prefix } = upload;
  if (upload.tooLarge || size > maxBytes) return probeMedia(prefix, { totalSize: size });
  if (prefix.length >= size) return probeMedia(prefix);
  const first = await probeMedia(prefix, { totalSize: size });
  if (!needsWholeFile(first) || first.kind === 'unknown') return first;
  if (first.kind === 'video') {
    if (!ISO_BMFF_MIMES.has(first.mime)) return first;
    return (await probeMovieAtEnd(upload)) ?? first;
  }
  return probeMedia(await upload.read(0, size - 1));
}

/** An MP4/MOV whose `moov` follows its media data: its first box and `moov`, probed as a prefix. */
async function probeMovieAtEnd(upload: StreamedUpload): Promise<MediaProbe | null> {
  const { size, prefix } = upload;
  const [lead] = boxes(prefix, 0, prefix.length);
  if (!lead || lead.truncated) return null;
  const leadBytes = prefix.subarray(0, lead.end);
  let pos = 0;
  for (let i = 0; i < MAX_TOP_LEVEL_BOXES && pos + 8 <= size; i++) {
    const head = await upload.read(pos, Math.min(pos + 15, size - 1));
    const box = readBoxHeader(head, 0, head.length);
    if (!box) return null;
    const boxSize = box.size === 0 ? size - pos : box.size;
    if (boxSize < box.header) return null;
    if (box.type === 'moov') {
      if (boxSize > MAX_TAIL_MOOV_BYTES || pos + boxSize > size) return null;
      const moov = await upload.read(pos, pos + boxSize - 1);
      return probeMedia(Buffer.concat([leadBytes, moov]), { totalSize: size, complete: false });
    }
    pos += boxSize;
  }
  return null;
}
