import { DuplicateExternalTaskIdError, ValidationError } from '../../errors.js';
import { builder } from '../builder.js';
import { ProviderEnum } from './enums.js';
import { DuplicateExternalTaskIdType, ValidationErrorType } from './errors.js';
import { MediaInputType } from './media-input.js';
import { TaskType } from './task.js';

const KlingModeEnum = builder.enumType('KlingMode', {
  values: { STD: { value: 'std', description: 'Standard: cost-effective' }, PRO: { value: 'pro', description: 'Professional: higher quality' } } as const,
});

const KlingAvatarOptionsInput = builder.inputType('KlingAvatarOptions', {
  fields: (t) => ({
    mode: t.field({ type: KlingModeEnum, defaultValue: 'std' }),
    watermark: t.boolean({ defaultValue: false, description: 'Also produce a watermarked video (watermark_info.enabled).' }),
  }),
});

const CreateAvatarVideoInput = builder.inputType('CreateAvatarVideoInput', {
  fields: (t) => ({
    provider: t.field({ type: ProviderEnum, defaultValue: 'KLING' }),
    image: t.field({ type: MediaInputType, required: true, description: 'The portrait: jpg or png, at least 300 px a side.' }),
    audio: t.field({ type: MediaInputType, description: 'The speech (Kling sound_file). Exactly one of audio or audioId.' }),
    audioId: t.string({ description: 'A Kling TTS audio id (audio_id). Exactly one of audio or audioId.' }),
    prompt: t.string({ description: 'Actions, emotions and camera moves; at most 2500 characters.' }),
    externalTaskId: t.string({ description: 'Your own id for the task, unique in your tenant; find the task by it later.' }),
    kling: t.field({ type: KlingAvatarOptionsInput }),
  }),
});

builder.mutationField('createAvatarVideo', (t) =>
  t.field({
    type: TaskType,
    args: { input: t.arg({ type: CreateAvatarVideoInput, required: true }) },
    errors: {
      types: [ValidationError, DuplicateExternalTaskIdError],
      directResult: true,
      union: { name: 'CreateTaskResult' },
    },
    resolve: (_root, { input }, ctx) => ctx.tasks.createAvatarVideo(ctx.principal, stripNulls(input)),
  }),
);

// Keep the referenced error types in this module's graph so the union can list them.
void ValidationErrorType;
void DuplicateExternalTaskIdType;

/** GraphQL gives explicit nulls for omitted optional fields; the zod schema treats them as absent. */
function stripNulls(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripNulls);
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== null)
        .map(([k, v]) => [k, stripNulls(v)]),
    );
  }
  return value;
}
