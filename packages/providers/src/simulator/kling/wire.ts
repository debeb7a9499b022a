import type { OutputLinks } from '../output-links.js';
import { AVATAR_DURATION, MP3_DURATION, VIDEO_WITH_SOUND_DURATION, WAV_DURATION, type SimTask } from './types.js';

/** A sandbox task in Kling's wire shape: the `data` of a query, and the body of a callback. */
export function serializeTask(t: SimTask, baseUrl: string, links: OutputLinks): Record<string, unknown> {
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
    const link = (file: string) => links.link(baseUrl, `/media/kling/${file}`, t.updatedAt);
    if (t.capability === 'avatar') {
      out['task_result'] = {
        videos: [
          {
            id: t.videoId,
            url: link('avatar-sample.mp4'),
            watermark_url: t.watermark ? link('avatar-sample-watermarked.mp4') : '',
            duration: AVATAR_DURATION,
          },
        ],
      };
    } else {
      out['task_result'] = {
        videos: [{ id: t.videoId, url: link('video-with-sound-sample.mp4'), duration: VIDEO_WITH_SOUND_DURATION }],
        audios: [
          {
            id: t.audioId,
            url_mp3: link('sound-sample.mp3'),
            url_wav: link('sound-sample.wav'),
            duration_mp3: MP3_DURATION,
            duration_wav: WAV_DURATION,
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
