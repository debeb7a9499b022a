import { sha256Hex } from '../crypto.js';
import type { FieldIssue } from '../errors.js';
import { checkMedia, type MediaRule } from '../media/limits.js';
import { PROBE_PREFIX_BYTES, probeMedia } from '../media/probe.js';
import { fetchAndProbe } from '../media/remote.js';
import { MAX_UPLOAD_BYTES, probeStreamed, StreamedUpload } from '../media/streamed-upload.js';
import { MediaFetchError, type SafeAgent } from '../media/safe-fetch.js';
import type { MediaInput } from '@clipwire/schema';
import type { DraftRef, MediaReading } from '../providers/slice.js';

/**
 * Media the client sent as bytes: kept by Clipwire, referenced from the request as `{ upload: n }`.
 * Inline (base64) bytes, or a multipart upload already streamed into the object store.
 */
export type PendingUpload = {
  mime: string;
  /** Hex SHA-256 of the bytes, taken once: stored with the media and part of the create's fingerprint. */
  sha256: string;
} & ({ bytes: Buffer } | { streamed: StreamedUpload });

/** What reading media needs: the SSRF-safe dispatcher URL media are fetched through, and its timeout. */
export interface MediaReaderEnv {
  dispatcher: SafeAgent;
  fetchTimeoutMs: number;
}

/** Reads a media input far enough to check it, and returns how the task will refer to it. */
export class MediaReader implements MediaReading {
  readonly issues: FieldIssue[] = [];
  private accepted = 0;

  constructor(
    private readonly env: MediaReaderEnv,
    /** Shared by the readers of every provider on the route: each body is kept once. */
    readonly uploads: PendingUpload[] = [],
  ) {}

  totalBytes(): number {
    return this.accepted;
  }

  refuse(path: string[], message: string): void {
    this.issues.push({ path, message });
  }

  async read(media: MediaInput, path: string[], rule: MediaRule): Promise<DraftRef | null> {
    const name = path.at(-1)!;
    try {
      if (media.url !== undefined) {
        const { probe } = await fetchAndProbe(media.url, {
          dispatcher: this.env.dispatcher,
          maxBytes: rule.maxBytes,
          timeoutMs: this.env.fetchTimeoutMs,
        });
        return this.check(rule, probe, path) ? { url: media.url } : null;
      }
      if (media.file instanceof StreamedUpload) return this.readStreamed(media.file, path, rule);
      let bytes: Buffer;
      if (media.base64 !== undefined) {
        bytes = Buffer.from(media.base64, 'base64');
      } else {
        // A File from elsewhere than the router's multipart parser (which streams to the store).
        bytes = Buffer.from(await media.file!.arrayBuffer());
      }
      if (bytes.length > rule.maxBytes) {
        // Over the size limit: the header tells the type, and the size is all the check needs.
        this.check(rule, await probeMedia(bytes.subarray(0, PROBE_PREFIX_BYTES), { totalSize: bytes.length }), path);
        return null;
      }
      if (bytes.length === 0) {
        this.issues.push({ path, message: `${name} is empty` });
        return null;
      }
      const probe = await probeMedia(bytes);
      if (!this.check(rule, probe, path)) return null;
      const sha256 = sha256Hex(bytes);
      const known = this.uploads.findIndex((u) => u.sha256 === sha256 && u.mime === probe.mime);
      if (known >= 0) return { upload: known };
      this.uploads.push({ bytes, mime: probe.mime, sha256 });
      return { upload: this.uploads.length - 1 };
    } catch (error) {
      if (error instanceof MediaFetchError) {
        this.issues.push({ path: [...path, 'url'], message: `${name} could not be fetched: ${error.message}` });
        return null;
      }
      throw error;
    }
  }

  /** An upload in the store: facts read from its first bytes (and a video's tail), never the whole. */
  private async readStreamed(file: StreamedUpload, path: string[], rule: MediaRule): Promise<DraftRef | null> {
    if (file.size === 0) {
      this.issues.push({ path, message: `${path.at(-1)} is empty` });
      return null;
    }
    const probe = await probeStreamed(file, rule.maxBytes);
    if (!this.check(rule, probe, path)) return null;
    if (file.tooLarge) {
      this.issues.push({ path, message: `${path.at(-1)} is over the upload limit of ${MAX_UPLOAD_BYTES} bytes` });
      return null;
    }
    const known = this.uploads.findIndex((u) => u.sha256 === file.sha256 && u.mime === probe.mime);
    if (known >= 0) return { upload: known };
    this.uploads.push({ streamed: file, mime: probe.mime, sha256: file.sha256 });
    return { upload: this.uploads.length - 1 };
  }

  private check(rule: MediaRule, probe: Parameters<typeof checkMedia>[1], path: string[]): boolean {
    const found = checkMedia(rule, probe, path);
    this.issues.push(...found);
    if (found.length === 0) this.accepted += probe.sizeBytes;
    return found.length === 0;
  }
}
