import { mediaObjects, type MediaObjectRow } from '@clipwire/schema/tables';
import { and, asc, eq } from 'drizzle-orm';
import { builder } from '../builder.js';
import { TaskRef } from './task.js';

const InputMediaType = builder.objectRef<MediaObjectRow>('InputMedia').implement({
  description:
    'A media file the task was created with (sent inline or uploaded; media given by URL are not copied), kept until the input retention policy (INPUT_RETENTION_DAYS) or deleteTask removes it.',
  fields: (t) => ({
    mime: t.exposeString('mime'),
    sizeBytes: t.exposeInt('sizeBytes'),
    sha256: t.exposeString('sha256'),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true }),
    url: t.string({
      nullable: true,
      description: `A signed link to the bytes (Range requests served), valid ${INPUT_LINK_TTL_SECONDS / 60} minutes; null once the media is deleted.`,
      resolve: (media, _args, ctx) => (media.deletedAt ? null : ctx.mediaLink(media.id, INPUT_LINK_TTL_SECONDS)),
    }),
  }),
});

/** Long enough to preview and download; a new read of the task gives a new link. */
const INPUT_LINK_TTL_SECONDS = 60 * 60;

builder.objectField(TaskRef, 'inputMedia', (t) =>
  t.field({
    type: [InputMediaType],
    description:
      'The media the task was created with that Clipwire keeps (inline and uploaded ones), in the order read.',
    resolve: (task, _args, ctx) =>
      ctx.db
        .select()
        .from(mediaObjects)
        .where(and(eq(mediaObjects.taskId, task.id), eq(mediaObjects.tenantId, ctx.principal.tenantId)))
        .orderBy(asc(mediaObjects.createdAt), asc(mediaObjects.id)),
  }),
);
