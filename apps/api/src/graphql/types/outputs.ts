import type { TaskAudio, TaskCostInfo, TaskErrorInfo, TaskVideo } from '@clipwire/schema';
import { builder } from '../builder.js';

export const VideoOutputType = builder.objectRef<TaskVideo>('VideoOutput').implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    url: t.exposeString('url'),
    watermarkUrl: t.exposeString('watermarkUrl', { nullable: true }),
    durationSeconds: t.exposeFloat('durationSeconds', { nullable: true }),
  }),
});

export const AudioOutputType = builder.objectRef<TaskAudio>('AudioOutput').implement({
  fields: (t) => ({
    id: t.exposeString('id'),
    mp3Url: t.exposeString('mp3Url', { nullable: true }),
    wavUrl: t.exposeString('wavUrl', { nullable: true }),
    mp3DurationSeconds: t.exposeFloat('mp3DurationSeconds', { nullable: true }),
    wavDurationSeconds: t.exposeFloat('wavDurationSeconds', { nullable: true }),
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
