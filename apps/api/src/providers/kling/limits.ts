/** Kling's documented input limits (docs/providers/kling.md), checked against a probe. */
import { checkMedia, MB, type MediaIssue, type MediaRule } from '../../media/limits.js';
import type { MediaProbe } from '../../media/probe.js';

export const KLING_RULES = {
  /** Kling avatar `image`: .jpg/.jpeg/.png, ≤ 10 MB, sides ≥ 300 px, aspect 1:2.5–2.5:1. */
  avatarImage: {
    kind: 'image',
    types: { 'image/jpeg': 'jpg', 'image/png': 'png' },
    maxBytes: 10 * MB,
    minSidePx: 300,
    maxAspect: 2.5,
  },
  /** Kling avatar `sound_file`: .mp3/.wav/.m4a/.aac, ≤ 5 MB, 2–300 s. */
  avatarAudio: {
    kind: 'audio',
    types: { 'audio/mpeg': 'mp3', 'audio/wav': 'wav', 'audio/x-m4a': 'm4a', 'audio/mp4': 'm4a', 'audio/aac': 'aac' },
    maxBytes: 5 * MB,
    minSeconds: 2,
    maxSeconds: 300,
  },
  /** Kling video-to-audio `video_url`: mp4/mov, ≤ 100 MB, 3.0–20.0 s. */
  videoToAudioVideo: {
    kind: 'video',
    types: { 'video/mp4': 'mp4', 'video/quicktime': 'mov' },
    maxBytes: 100 * MB,
    minSeconds: 3,
    maxSeconds: 20,
  },
} as const satisfies Record<string, MediaRule>;

export const checkKlingAvatarImage = (probe: MediaProbe, path: string[]): MediaIssue[] =>
  checkMedia(KLING_RULES.avatarImage, probe, path);
export const checkKlingAvatarAudio = (probe: MediaProbe, path: string[]): MediaIssue[] =>
  checkMedia(KLING_RULES.avatarAudio, probe, path);
export const checkKlingVideoToAudioVideo = (probe: MediaProbe, path: string[]): MediaIssue[] =>
  checkMedia(KLING_RULES.videoToAudioVideo, probe, path);
