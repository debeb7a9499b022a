/**
 * Media rules and their check against a probe. Each provider's rules (its documented input limits,
 * see docs/providers/) are in its folder under src/providers/. Each check is pure:
 * (probe, path) → issues whose message names the field (the last path segment) and says what was
 * found. Only documented rules are enforced for each provider.
 *
 * "MB" in the provider pages is read as MiB (1024 × 1024 bytes): the pages don't say which, and the
 * more lenient reading never refuses a file the provider would take.
 */
import type { MediaKind, MediaProbe } from './probe.js';

/** Same shape as FieldIssue in src/errors.ts. */
export interface MediaIssue {
  path: string[];
  message: string;
}

export const MB = 1024 * 1024;

export interface MediaRule {
  /** What the field must be, for messages: 'an image', 'audio', 'a video'. */
  kind: Exclude<MediaKind, 'unknown'>;
  /** Accepted types by mime (from magic bytes) with the label used in messages. */
  types: Readonly<Record<string, string>>;
  maxBytes: number;
  /** Both sides at least this many px (images). */
  minSidePx?: number;
  /** width / height must be within [1/maxAspect, maxAspect] (images). */
  maxAspect?: number;
  minSeconds?: number;
  maxSeconds?: number;
}

/**
 * Common audio types: KIE's documented ones; the digital-human API documents none and takes these
 * and FLAC.
 */
export const AUDIO_TYPES = {
  'audio/mpeg': 'mp3',
  'audio/wav': 'wav',
  'audio/x-wav': 'wav',
  'audio/aac': 'aac',
  'audio/x-m4a': 'm4a',
  'audio/mp4': 'm4a',
  'audio/ogg': 'ogg',
} as const;

function fieldName(path: readonly string[]): string {
  for (let i = path.length - 1; i >= 0; i--) {
    const seg = path[i]!;
    if (!/^\d+$/.test(seg)) return seg;
  }
  return 'file';
}

function formatBytes(n: number): string {
  if (n >= MB) return `${(n / MB).toFixed(n % MB === 0 ? 0 : 1)} MB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${n} bytes`;
}

/** A size over `limit`, in bytes when rounding would make it look equal to the limit. */
function formatOver(n: number, limit: number): string {
  const text = formatBytes(n);
  return Number.parseFloat(text) === Number.parseFloat(formatBytes(limit)) ? `${n} bytes` : text;
}

function formatSeconds(s: number): string {
  return `${Number(s.toFixed(2))} s`;
}

function formatRatio(r: number): string {
  return r >= 1 ? `${Number(r.toFixed(2))}:1` : `1:${Number((1 / r).toFixed(2))}`;
}

function listTypes(types: Readonly<Record<string, string>>): string {
  const labels = [...new Set(Object.values(types))];
  return labels.length <= 1 ? (labels[0] ?? '') : `${labels.slice(0, -1).join(', ')} or ${labels.at(-1)}`;
}

/**
 * Checks a probe against a rule. Type first: when the type is wrong nothing else is reported. Then
 * size, then integrity: a truncated or corrupt file (probe.intact === false) is reported as such and
 * its dimensions and duration are not judged — they were read from a damaged file (a WAV cut in half
 * "lasts" half as long) and the file is refused anyway.
 */
export function checkMedia(rule: MediaRule, probe: MediaProbe, path: string[]): MediaIssue[] {
  const field = fieldName(path);
  const issue = (message: string): MediaIssue => ({ path: [...path], message });
  const issues: MediaIssue[] = [];

  if (!(probe.mime in rule.types)) {
    const got = probe.kind === 'unknown' ? 'an unrecognised file' : `${probe.ext} (${probe.mime})`;
    return [issue(`${field} must be ${listTypes(rule.types)} (got ${got})`)];
  }
  if (probe.sizeBytes > rule.maxBytes) {
    issues.push(
      issue(
        `${field} must be at most ${formatBytes(rule.maxBytes)} (got ${formatOver(probe.sizeBytes, rule.maxBytes)})`,
      ),
    );
  }

  if (probe.intact === false) {
    const why = probe.corruption !== undefined ? ` (${probe.corruption})` : '';
    issues.push(issue(`${field}: the file is truncated or corrupt${why}`));
    return issues;
  }

  if (rule.minSidePx !== undefined || rule.maxAspect !== undefined) {
    const { width, height } = probe;
    if (width === undefined || height === undefined || width <= 0 || height <= 0) {
      issues.push(issue(`${field}: could not read the image dimensions`));
    } else {
      const dims = `${width}×${height}`;
      if (rule.minSidePx !== undefined && Math.min(width, height) < rule.minSidePx) {
        issues.push(issue(`${field} must be at least ${rule.minSidePx} px on each side (got ${dims})`));
      }
      if (rule.maxAspect !== undefined) {
        const ratio = width / height;
        if (ratio > rule.maxAspect || ratio < 1 / rule.maxAspect) {
          issues.push(
            issue(
              `${field} aspect ratio must be between 1:${rule.maxAspect} and ${rule.maxAspect}:1 ` +
                `(got ${dims}, ${formatRatio(ratio)})`,
            ),
          );
        }
      }
    }
  }

  if (rule.minSeconds !== undefined || rule.maxSeconds !== undefined) {
    const d = probe.durationSeconds;
    const range =
      rule.maxSeconds === undefined
        ? `at least ${rule.minSeconds} s long`
        : rule.minSeconds === undefined
          ? `at most ${rule.maxSeconds} s long`
          : `between ${rule.minSeconds} and ${rule.maxSeconds} s long`;
    if (d === undefined) {
      issues.push(issue(`${field}: could not determine the duration (must be ${range})`));
    } else if (
      (rule.minSeconds !== undefined && d < rule.minSeconds) ||
      (rule.maxSeconds !== undefined && d > rule.maxSeconds)
    ) {
      issues.push(issue(`${field} must be ${range} (got ${formatSeconds(d)})`));
    }
  }
  return issues;
}
