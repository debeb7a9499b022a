/** KIE.ai's documented input limits for infinitalk/from-audio (docs/providers/kie.md). */
import { AUDIO_TYPES, checkMedia, MB, type MediaIssue, type MediaRule } from '../../media/limits.js';
import type { MediaProbe } from '../../media/probe.js';

export const KIE_RULES = {
  /** KIE infinitalk `image_url`: jpeg/png/webp ≤ 10 MB (no dimension rules documented). */
  image: {
    kind: 'image',
    types: { 'image/jpeg': 'jpeg', 'image/png': 'png', 'image/webp': 'webp' },
    maxBytes: 10 * MB,
  },
  /** KIE infinitalk `audio_url`: mpeg/wav/x-wav/aac/mp4/ogg ≤ 10 MB (no duration rule documented). */
  audio: { kind: 'audio', types: AUDIO_TYPES, maxBytes: 10 * MB },
} as const satisfies Record<string, MediaRule>;

export const checkKieImage = (probe: MediaProbe, path: string[]): MediaIssue[] =>
  checkMedia(KIE_RULES.image, probe, path);
export const checkKieAudio = (probe: MediaProbe, path: string[]): MediaIssue[] =>
  checkMedia(KIE_RULES.audio, probe, path);
