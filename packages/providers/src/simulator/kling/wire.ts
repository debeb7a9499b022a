import { sizedFile } from '../media.js';
import type { OutputLinks } from '../output-links.js';
import {
  AVATAR_DURATION,
  MP3_DURATION,
  VIDEO_WITH_SOUND_DURATION,
  WAV_DURATION,
  klingSeconds,
  type SimTask,
} from './types.js';

/**
 * A sandbox task in Kling's wire shape: the `data` of a query, and the body of a callback. Outputs are
 * as long as their input (`outputSeconds`; the MP3 ends on a whole frame), or the samples when that is unknown.
 */
export function serializeTask(t: SimTask, baseUrl: string, links: OutputLinks): Record<string, unknown> {
  const n = t.outputSeconds;
  const taskInfo: Record<string, unknown> = { external_task_id: t.externalTaskId ?? '' };
  if (t.parentVideo) taskInfo['parent_video'] = t.parentVideo;
  const out: Record<string, unknown> = {
    task_id: t.taskId,
    task_status: t.status,
    task_status_msg: t.statusMsg,
    task_info: taskInfo,
    created_at: t.createdAt,
    updated_at: t.updatedAt,
  };
  if (t.capability === 'avatar') out['watermark_info'] = { enabled: t.watermark };
  if (t.status === 'succeed') {
    // Issued when the task succeeded (its last update): they expire that long after.
    const link = (sample: string) => links.link(baseUrl, `/media/kling/${sizedFile(sample, n)}`, t.updatedAt);
    if (t.capability === 'avatar') {
      out['task_result'] = {
        videos: [
          {
            id: t.videoId,
            url: link('avatar-sample.mp4'),
            watermark_url: t.watermark ? link('avatar-sample-watermarked.mp4') : '',
            duration: n === null ? AVATAR_DURATION : klingSeconds(n),
          },
        ],
      };
    } else {
      out['task_result'] = {
        videos: [
          {
            id: t.videoId,
            url: link('video-with-sound-sample.mp4'),
            duration: n === null ? VIDEO_WITH_SOUND_DURATION : klingSeconds(n),
          },
        ],
        audios: [
          {
            id: t.audioId,
            url_mp3: link('sound-sample.mp3'),
            url_wav: link('sound-sample.wav'),
            duration_mp3: n === null ? MP3_DURATION : klingSeconds(mp3FrameSeconds(n)),
            duration_wav: n === null ? WAV_DURATION : klingSeconds(n),
          },
        ],
      };
    }
    out['final_unit_deduction'] = t.capability === 'avatar' ? '5' : '1';
  } else if (t.status === 'failed') {
    out['final_unit_deduction'] = '0';
  }
  return out;
}

/** The sample MP3 (MPEG-2 layer III, 22.05 kHz: 576 samples a frame) made to last `seconds` ends on a whole frame. */
function mp3FrameSeconds(seconds: number): number {
  const frame = 576 / 22_050;
  return Math.max(1, Math.round(Math.round(seconds * 1000) / 1000 / frame)) * frame;
}
