/**
 * Probe media behind a URL, downloading only what the probe needs (see probe.ts for what each kind
 * needs): first PROBE_PREFIX_BYTES (a Range request); if that left facts unknown, the whole file
 * up to `maxBytes`. A file whose known total size is already over `maxBytes` is not downloaded
 * further: its probe carries the total size, which the limit check reports.
 *
 * - Images and audio are always checked whole (integrity needs every byte; images are ≤ 10 MB by the
 *   rules, audio durations need the whole file anyway).
 * - A faststart video (moov first) stays prefix-probed: its duration and frame size are in the prefix,
 *   and with the total size known (Content-Range / Content-Length) the prefix's top-level box sizes
 *   and sample table are checked against it (probe.intact === false when they point past the end).
 *   The rest of a 100 MB video is not downloaded just to check that it is all there.
 * - When the server sent a cut body without saying how big the file is (no Range support, chunked),
 *   the size is unknown and the whole file is downloaded (up to `maxBytes`): the size check needs it.
 */
import { PROBE_PREFIX_BYTES, needsWholeFile, probeMedia, type MediaProbe } from './probe.js';
import { safeFetch, type SafeAgent } from './safe-fetch.js';

export interface FetchAndProbeOptions {
  dispatcher: SafeAgent;
  /** Usually the rule's maxBytes. */
  maxBytes: number;
  /** Per download (at most two). */
  timeoutMs: number;
  maxRedirects?: number;
  signal?: AbortSignal;
  /** First request size; default PROBE_PREFIX_BYTES. */
  prefixBytes?: number;
}

export interface FetchedProbe {
  probe: MediaProbe;
  finalUrl: string;
  /** Bytes downloaded in total. */
  downloadedBytes: number;
}

export async function fetchAndProbe(url: string | URL, opts: FetchAndProbeOptions): Promise<FetchedProbe> {
  const base = {
    dispatcher: opts.dispatcher,
    timeoutMs: opts.timeoutMs,
    maxBytes: opts.maxBytes,
    ...(opts.maxRedirects !== undefined ? { maxRedirects: opts.maxRedirects } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
  };
  const head = await safeFetch(url, { ...base, rangeBytes: opts.prefixBytes ?? PROBE_PREFIX_BYTES });
  const first = await probeMedia(head.bytes, {
    ...(head.totalSize !== undefined ? { totalSize: head.totalSize } : {}),
    complete: !head.truncated,
  });
  const sizeUnknown = head.totalSize === undefined;
  if (!head.truncated || (!needsWholeFile(first) && !sizeUnknown) || first.kind === 'unknown') {
    return { probe: first, finalUrl: head.finalUrl, downloadedBytes: head.bytes.length };
  }
  if (head.totalSize !== undefined && head.totalSize > opts.maxBytes) {
    return { probe: first, finalUrl: head.finalUrl, downloadedBytes: head.bytes.length };
  }
  const whole = await safeFetch(head.finalUrl, base);
  return {
    probe: await probeMedia(whole.bytes),
    finalUrl: whole.finalUrl,
    downloadedBytes: head.bytes.length + whole.bytes.length,
  };
}
