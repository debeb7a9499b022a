import type { TaskCostInfo, TaskErrorInfo } from '@clipwire/schema';
import type { AudioView, VideoView } from '../../tasks/public.js';
import { builder } from '../builder.js';
import { ArchiveStatusEnum } from './enums.js';

const ARCHIVED_LINK =
  "Clipwire's copy once archiveStatus is ARCHIVED (it keeps working while the task is kept; 410 Gone once DELETED), the provider's link until then.";
const EXPIRES =
  'When the provider deletes its links, as it documents (Kling: 30 days, KIE: 14 days after the task finished); null when undocumented.';
const STATUS =
  "Where Clipwire's copy of this output is; null when Clipwire does not keep it (ARCHIVE_OUTPUTS was off when the task succeeded).";

export const VideoOutputType = builder.objectRef<VideoView>('VideoOutput').implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    url: t.exposeString('url', { description: ARCHIVED_LINK }),
    watermarkUrl: t.exposeString('watermarkUrl', { nullable: true, description: ARCHIVED_LINK }),
    durationSeconds: t.exposeFloat('durationSeconds', { nullable: true }),
    providerUrl: t.exposeString('providerUrl', { description: "The provider's original link." }),
    providerWatermarkUrl: t.exposeString('providerWatermarkUrl', {
      nullable: true,
      description: "The provider's original link to the watermarked video.",
    }),
    providerUrlExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: EXPIRES,
      resolve: (v) => (v.providerUrlExpiresAt ? new Date(v.providerUrlExpiresAt) : null),
    }),
    archiveStatus: t.expose('archiveStatus', { type: ArchiveStatusEnum, nullable: true, description: STATUS }),
  }),
});

export const AudioOutputType = builder.objectRef<AudioView>('AudioOutput').implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    mp3Url: t.exposeString('mp3Url', { nullable: true, description: ARCHIVED_LINK }),
    wavUrl: t.exposeString('wavUrl', { nullable: true, description: ARCHIVED_LINK }),
    mp3DurationSeconds: t.exposeFloat('mp3DurationSeconds', { nullable: true }),
    wavDurationSeconds: t.exposeFloat('wavDurationSeconds', { nullable: true }),
    providerUrl: t.exposeString('providerUrl', {
      nullable: true,
      description: "The provider's original link: its MP3, or its WAV when there is no MP3.",
    }),
    providerMp3Url: t.exposeString('providerMp3Url', { nullable: true, description: "The provider's MP3 link." }),
    providerWavUrl: t.exposeString('providerWavUrl', { nullable: true, description: "The provider's WAV link." }),
    providerUrlExpiresAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: EXPIRES,
      resolve: (a) => (a.providerUrlExpiresAt ? new Date(a.providerUrlExpiresAt) : null),
    }),
    archiveStatus: t.expose('archiveStatus', { type: ArchiveStatusEnum, nullable: true, description: STATUS }),
  }),
});

export const TaskErrorType = builder.objectRef<TaskErrorInfo>('TaskError').implement({
  fields: (t) => ({
    code: t.exposeString('code'),
    message: t.exposeString('message'),
    providerCode: t.exposeString('providerCode', { nullable: true }),
  }),
});

export const TaskCostType = builder.objectRef<TaskCostInfo>('TaskCost').implement({
  fields: (t) => ({
    units: t.exposeString('units', {
      nullable: true,
      description: 'Provider units deducted, as the provider reports them.',
    }),
  }),
});
