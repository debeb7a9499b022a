import {
  DuplicateExternalTaskIdError,
  ProviderRejectedError,
  ProviderUnavailableError,
  QuotaExceededError,
  ValidationError,
} from '../../errors.js';
import { intakeAvatarVideo, intakeVideoSound } from '../../tasks/intake.js';
import { builder } from '../builder.js';
import { CreateAvatarVideoInput } from './create-avatar-video-input.js';
import { CreateVideoSoundInput } from './create-video-sound-input.js';
import { TaskType } from './task.js';

/** Both creates answer one union, CreateTaskResult: the created task, or why none was created. */
const CREATE_ERRORS = {
  types: [
    ValidationError,
    DuplicateExternalTaskIdError,
    ProviderUnavailableError,
    ProviderRejectedError,
    QuotaExceededError,
  ],
  union: { name: 'CreateTaskResult', description: 'The created task, or why none was created.' },
  // (The key under which the plugin makes the union once for both fields.)
  result: { name: 'CreateTaskSuccess' },
};

builder.mutationField('createAvatarVideo', (t) =>
  t.field({
    type: TaskType,
    errors: CREATE_ERRORS,
    description:
      'Portrait + speech → talking video, on KLING (default), KIE or DIGITAL_HUMAN. Every documented limit is checked first; the task is committed PENDING and then submitted.',
    args: { input: t.arg({ type: CreateAvatarVideoInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      ctx.tasks.create(ctx.principal, await intakeAvatarVideo(input, ctx.intake), ctx.log),
  }),
);

builder.mutationField('createVideoSound', (t) =>
  t.field({
    type: TaskType,
    errors: CREATE_ERRORS,
    description: 'Video → generated sound effects and background music (Kling video-to-audio).',
    args: { input: t.arg({ type: CreateVideoSoundInput, required: true }) },
    resolve: async (_root, { input }, ctx) =>
      ctx.tasks.create(ctx.principal, await intakeVideoSound(input, ctx.intake), ctx.log),
  }),
);
