/**
 * Media facts read from the bytes themselves — never from a file name, URL or Content-Type.
 *
 * - type: file-type (magic bytes; needs at most the first ~4 KiB);
 * - image dimensions: image-size (PNG/GIF/WebP need the first few dozen bytes; JPEG needs the
 *   bytes up to its SOF marker, which follows EXIF/ICC segments — 64 KiB covers ordinary files);
 * - audio duration: music-metadata `parseBuffer`. It needs the WHOLE file for every audio format
 *   we accept: WAV and AAC durations are computed from the bytes present, Ogg from its last page,
 *   MP3 from a Xing/VBRI header or (CBR) from the total size, M4A from `moov` that ffmpeg and most
 *   encoders write at the end. A duration computed from a prefix can be silently wrong (a 3 s WAV
 *   cut at 4 KiB "lasts" 0.5 s), so audio durations are only reported from complete files.
 * - MP4/MOV duration and frame size: the movie header (`moov/mvhd`, `moov/trak/tkhd`) read by the
 *   small hand-written ISO-BMFF walker below, because music-metadata only reports the duration of
 *   an AUDIO track and Kling's video-to-audio input usually has none. `mvhd` is authoritative, so a
 *   prefix suffices when `moov` comes first ("faststart"); otherwise the whole file is needed.
 *   music-metadata is the fallback (fragmented files).
 * - integrity (`intact`, `corruption`): integrity.ts walks the container of a complete file (every
 *   PNG chunk to IEND, JPEG segments and scans to EOI, RIFF sizes, MP4 boxes and sample tables, MP3 /
 *   AAC frames, Ogg pages, FLAC metadata and frames). A file cut after its header reads the same
 *   type, dimensions and often duration as the whole file, so only this tells them apart — and it
 *   needs the WHOLE file, images included.
 */
import { fileTypeFromBuffer } from 'file-type';
import { imageSize } from 'image-size';
import { parseBuffer } from 'music-metadata';
import { checkIntegrity, checkIsoBmffPrefix } from './integrity.js';
import { boxes, ISO_BMFF_MIMES } from './iso-bmff.js';

export type MediaKind = 'image' | 'audio' | 'video' | 'unknown';

export interface MediaProbe {
  kind: MediaKind;
  /** From magic bytes; `application/octet-stream` when unknown. */
  mime: string;
  /** Canonical extension for the detected type (`jpg`, `png`, `mp3`, `m4a`, `mov`, …); `bin` when unknown. */
  ext: string;
  /** Size of the whole file: `opts.totalSize` when given, else the length of the bytes probed. */
  sizeBytes: number;
  /** Display orientation (EXIF rotation applied) for images; frame size for video. */
  width?: number;
  height?: number;
  durationSeconds?: number;
  /** Whether the probed bytes were the whole file. */
  complete: boolean;
  /**
   * Whether the file is whole and undamaged (see integrity.ts). Set for complete files of every type
   * with a walker (PNG, JPEG, WebP, GIF, MP4/MOV/M4A, WAV, MP3, AAC, Ogg, FLAC); absent when not
   * checked. For a prefix it is only ever `false`: when an MP4/MOV's boxes seen in the prefix already
   * declare more bytes than the file's total size.
   */
  intact?: boolean;
  /** Why `intact` is false, e.g. "the PNG ends before its IEND chunk". */
  corruption?: string;
}

/** Bytes that suffice for the type and image dimensions (not for integrity). */
export const PROBE_PREFIX_BYTES = 64 * 1024;

/**
 * How many leading bytes a probe needs for `kind`: the whole file (`Infinity`) for images (integrity
 * needs every chunk), audio and video. For video a prefix MAY suffice (faststart MP4/MOV: duration
 * and frame size from `moov`, consistency of the box sizes with the total size) — fetch
 * PROBE_PREFIX_BYTES first and check `needsWholeFile(probe)`. For an unknown kind, the prefix is
 * enough to know that the type is unsupported.
 */
export function neededBytes(kind: MediaKind): number {
  switch (kind) {
    case 'unknown':
      return PROBE_PREFIX_BYTES;
    case 'image':
    case 'audio':
    case 'video':
      return Number.POSITIVE_INFINITY;
  }
}

/**
 * True when a probe of a prefix lacks facts the whole file would give and the checks need: image
 * integrity, audio duration, video duration (a faststart video's prefix is enough; its integrity is
 * then only checked for consistency with the total size).
 */
export function needsWholeFile(probe: MediaProbe): boolean {
  if (probe.complete) return false;
  switch (probe.kind) {
    case 'image':
      return true;
    case 'audio':
    case 'video':
      return probe.durationSeconds === undefined;
    case 'unknown':
      return false;
  }
}

function kindOf(mime: string): MediaKind {
  if (mime.startsWith('image/')) return 'image';
  if (mime.startsWith('audio/')) return 'audio';
  if (mime.startsWith('video/')) return 'video';
  return 'unknown';
}

export interface ProbeOptions {
  /** Size of the whole file when `bytes` may be a prefix of it (Content-Range, an upload's length). */
  totalSize?: number;
  /**
   * Whether `bytes` is the whole file. Default: `bytes.length >= totalSize` (true without totalSize).
   * Pass `false` for a prefix of a file whose total size is unknown.
   */
  complete?: boolean;
}

export async function probeMedia(bytes: Buffer | Uint8Array, opts: ProbeOptions = {}): Promise<MediaProbe> {
  const sizeBytes = opts.totalSize ?? bytes.length;
  const complete = opts.complete ?? bytes.length >= sizeBytes;
  const type = await fileTypeFromBuffer(bytes);
  const mime = type?.mime ?? 'application/octet-stream';
  const kind = type ? kindOf(type.mime) : 'unknown';
  const ext = type?.ext ?? 'bin';
  const probe: MediaProbe = { kind, mime, ext, sizeBytes, complete };

  const integrity = complete
    ? checkIntegrity(bytes, mime, ext)
    : opts.totalSize !== undefined
      ? checkIsoBmffPrefix(bytes, opts.totalSize, mime, ext)
      : undefined;
  if (integrity) {
    probe.intact = integrity.intact;
    if (integrity.corruption !== undefined) probe.corruption = integrity.corruption;
  }

  if (kind === 'image') {
    try {
      const dim = imageSize(bytes);
      // EXIF orientations 5–8 rotate by 90°: what the provider sees is the other way round.
      const rotated = dim.orientation !== undefined && dim.orientation >= 5 && dim.orientation <= 8;
      probe.width = rotated ? dim.height : dim.width;
      probe.height = rotated ? dim.width : dim.height;
    } catch {
      // Unsupported by image-size or the prefix was too short: dimensions stay unknown.
    }
    return probe;
  }

  if (kind === 'audio' || kind === 'video') {
    if (ISO_BMFF_MIMES.has(mime)) {
      const movie = readIsoBmffMovie(bytes);
      if (movie.durationSeconds !== undefined) probe.durationSeconds = movie.durationSeconds;
      if (kind === 'video' && movie.width !== undefined && movie.height !== undefined) {
        probe.width = movie.width;
        probe.height = movie.height;
      }
      if (probe.durationSeconds !== undefined || !complete) return probe;
    }
    if (!complete) return probe; // see the header comment: prefix durations are unreliable
    try {
      const meta = await parseBuffer(bytes, { mimeType: mime, size: sizeBytes }, { duration: true, skipCovers: true });
      const d = meta.format.duration;
      if (d !== undefined && Number.isFinite(d) && d > 0) probe.durationSeconds = d;
    } catch {
      // Corrupt or unsupported container: duration stays unknown.
    }
  }
  return probe;
}

// ---------------------------------------------------------------------------------------------
// Minimal ISO base media file format reader (mp4, mov, m4a): moov/mvhd and moov/trak/tkhd only.
// ---------------------------------------------------------------------------------------------

function readIsoBmffMovie(bytes: Uint8Array): { durationSeconds?: number; width?: number; height?: number } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: { durationSeconds?: number; width?: number; height?: number } = {};
  for (const top of boxes(buf, 0, buf.length)) {
    if (top.type !== 'moov') continue;
    if (top.truncated) return out; // moov cut off by the prefix: nothing trustworthy
    for (const box of boxes(buf, top.start, top.end)) {
      if (box.type === 'mvhd' && box.end - box.start >= 20) {
        const version = buf[box.start]!;
        let timescale: number;
        let duration: number;
        if (version === 1) {
          if (box.end - box.start < 32) continue;
          timescale = view.getUint32(box.start + 20);
          duration = Number(view.getBigUint64(box.start + 24));
        } else {
          timescale = view.getUint32(box.start + 12);
          duration = view.getUint32(box.start + 16);
        }
        // All-ones duration means "unknown" (fragmented files).
        const unknown = version === 1 ? duration >= Number.MAX_SAFE_INTEGER : duration === 0xffffffff;
        if (timescale > 0 && duration > 0 && !unknown) out.durationSeconds = duration / timescale;
      } else if (box.type === 'trak' && out.width === undefined) {
        for (const t of boxes(buf, box.start, box.end)) {
          if (t.type !== 'tkhd') continue;
          const version = buf[t.start]!;
          // width/height (16.16 fixed point) are the last 8 bytes of tkhd: 84 (v0) / 96 (v1) bytes in.
          const off = t.start + (version === 1 ? 88 : 76);
          if (off + 8 > t.end) continue;
          const w = view.getUint32(off) / 65536;
          const h = view.getUint32(off + 4) / 65536;
          if (w > 0 && h > 0) {
            out.width = Math.round(w);
            out.height = Math.round(h);
          }
        }
      }
    }
    return out;
  }
  return out;
}
