/**
 * The digital-human reseller's input limits. It documents no format rules and ≤ 100 MB of media
 * per request, so type and size are what is checked (and ≥ 20 s of speech for a cloned voice).
 */
import { AUDIO_TYPES, checkMedia, MB, type MediaIssue, type MediaRule } from '../../media/limits.js';
import type { MediaProbe } from '../../media/probe.js';

/** Digital human `create_voice.audio_url`: the voice is cloned from it and needs ≥ 20 s of speech. */
const voiceAudio = {
  kind: 'audio',
  types: { ...AUDIO_TYPES, 'audio/flac': 'flac' },
  maxBytes: 100 * MB,
  minSeconds: 20,
} as const satisfies MediaRule;

export const DIGITAL_HUMAN_RULES = {
  voiceAudio,
  /** The speech that drives the avatar: any audio, no minimum. */
  drivingAudio: { ...voiceAudio, minSeconds: undefined },
  /** The avatar as an image. */
  avatarImage: {
    kind: 'image',
    types: { 'image/jpeg': 'jpg', 'image/png': 'png', 'image/webp': 'webp' },
    maxBytes: 100 * MB,
  },
  /** The avatar as a video. */
  avatarVideo: { kind: 'video', types: { 'video/mp4': 'mp4', 'video/quicktime': 'mov' }, maxBytes: 100 * MB },
} as const satisfies Record<string, MediaRule>;

/** "限制100m大小": the media of one /avatar/generation request, avatar and audio together. */
export const DIGITAL_HUMAN_REQUEST_MAX_BYTES = 100 * MB;

export const checkDigitalHumanVoiceAudio = (probe: MediaProbe, path: string[]): MediaIssue[] =>
  checkMedia(DIGITAL_HUMAN_RULES.voiceAudio, probe, path);
