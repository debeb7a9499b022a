import type { TaskRow } from '@clipwire/schema/tables';
import {
  DuplicateExternalTaskIdError,
  ProviderRejectedError,
  ProviderUnavailableError,
  ValidationError,
} from '../../errors.js';
import { intakeAvatarVideo, intakeVideoSound } from '../../tasks/intake.js';
import { builder } from '../builder.js';
import type { GraphQLContext } from '../context.js';
import { CreateAvatarVideoInput } from './create-avatar-video-input.js';
import { CreateVideoSoundInput } from './create-video-sound-input.js';
import {
  DuplicateExternalTaskIdType,
  ProviderRejectedType,
  ProviderUnavailableType,
  ValidationErrorType,
  type ErrorResult,
} from './errors.js';
import { TaskType } from './task.js';

type CreateResult = TaskRow | ErrorResult;

export const CreateTaskResult = builder.unionType('CreateTaskResult', {
  description: 'The created task, or why none was created.',
  types: [TaskType, ValidationErrorType, DuplicateExternalTaskIdType, ProviderUnavailableType, ProviderRejectedType],
  resolveType: (value) => ('__typename' in value ? value.__typename : 'Task'),
});

/** Expected failures become typed results; anything else stays a (masked) error. */
async function createTask(
  ctx: GraphQLContext,
  intake: () => ReturnType<typeof intakeAvatarVideo>,
): Promise<CreateResult> {
  try {
    return await ctx.tasks.create(ctx.principal, await intake());
  } catch (error) {
    if (error instanceof ValidationError)
      return { __typename: 'ValidationError', message: error.message, issues: error.issues };
    if (error instanceof DuplicateExternalTaskIdError) {
      return { __typename: 'DuplicateExternalTaskId', message: error.message, externalTaskId: error.externalTaskId };
    }
    if (error instanceof ProviderUnavailableError) {
      return { __typename: 'ProviderUnavailable', message: error.message, provider: error.provider };
    }
    if (error instanceof ProviderRejectedError) {
      return {
        __typename: 'ProviderRejected',
        message: error.message,
        provider: error.provider,
        providerCode: error.providerCode,
      };
    }
    throw error;
  }
}

builder.mutationField('createAvatarVideo', (t) =>
  t.field({
    type: CreateTaskResult,
    description:
      'Portrait + speech → talking video, on KLING (default), KIE or DIGITAL_HUMAN. Every documented limit is checked first; the task is committed PENDING and then submitted.',
    args: { input: t.arg({ type: CreateAvatarVideoInput, required: true }) },
    resolve: async (_root, { input }, ctx) => createTask(ctx, () => intakeAvatarVideo(input, ctx.intake)),
  }),
);

builder.mutationField('createVideoSound', (t) =>
  t.field({
    type: CreateTaskResult,
    description: 'Video → generated sound effects and background music (Kling video-to-audio).',
    args: { input: t.arg({ type: CreateVideoSoundInput, required: true }) },
    resolve: async (_root, { input }, ctx) => createTask(ctx, () => intakeVideoSound(input, ctx.intake)),
  }),
);
