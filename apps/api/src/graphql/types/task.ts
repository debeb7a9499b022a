import { EXTERNAL_TASK_ID_MAX_LENGTH as EXTERNAL_TASK_ID_MAX, isUuid } from '@clipwire/schema';
import type { TaskRow } from '@clipwire/schema/tables';
import { resolveCursorConnection, type ResolveCursorConnectionArgs } from '@pothos/plugin-relay';
import { GraphQLError } from 'graphql';
import { listTaskEvents } from '../../tasks/events.js';
import { findTask, findTasksByIds } from '../../tasks/repository.js';
import {
  decodeTaskCursor,
  encodeTaskCursor,
  listTasks,
  countTasks,
  type TaskCursor,
  type TaskFilter,
} from '../../tasks/task-pages.js';
import { taskView } from '../../tasks/public.js';
import { INPUT_LIMITS } from '../input-limits.js';
import { builder } from '../builder.js';
import { ProviderEnum, TaskKindEnum, TaskStatusEnum } from './enums.js';
import { AudioOutputType, TaskCostType, TaskErrorType, VideoOutputType } from './outputs.js';
import { RouteAttemptType } from './route.js';
import { TaskEventType } from './task-event.js';

export const TaskRef = builder.objectRef<TaskRow>('Task');

export const TaskType = builder.node(TaskRef, {
  id: { resolve: (task) => task.id },
  // Scoped to the caller's tenant: another tenant's id resolves exactly like an unknown one.
  loadMany: async (ids, ctx) => {
    const rows = await findTasksByIds(ctx.db, ctx.principal.tenantId, ids.filter(isUuid));
    const byId = new Map(rows.map((r) => [r.id, r]));
    return ids.map((id) => byId.get(id) ?? null);
  },
  fields: (t) => ({
    // The values are the task's public view (tasks/public.ts), which webhook bodies carry too.
    kind: t.field({ type: TaskKindEnum, resolve: (task) => taskView(task).kind }),
    provider: t.field({ type: ProviderEnum, resolve: (task) => taskView(task).provider }),
    model: t.string({ resolve: (task) => taskView(task).model }),
    status: t.field({ type: TaskStatusEnum, resolve: (task) => taskView(task).status }),
    statusMessage: t.string({ nullable: true, resolve: (task) => taskView(task).statusMessage }),
    progress: t.float({
      nullable: true,
      description: 'From 0 to 1, when known.',
      resolve: (task) => taskView(task).progress,
    }),
    externalTaskId: t.string({ nullable: true, resolve: (task) => taskView(task).externalTaskId }),
    providerTaskId: t.string({ nullable: true, resolve: (task) => taskView(task).providerTaskId }),
    attempts: t.field({
      type: [RouteAttemptType],
      description:
        'The route so far: each provider tried before `provider` and why the task left it, then `provider` itself (README, "Routing").',
      resolve: (task) => taskView(task).attempts,
    }),
    route: t.field({
      type: [ProviderEnum],
      description: 'The providers still to try, in order, if `provider` does not take the task.',
      resolve: (task) => taskView(task).route,
    }),
    input: t.field({
      type: 'JSON',
      description: 'The input as given, with media bodies elided.',
      resolve: (task) => task.input,
    }),
    videos: t.field({ type: [VideoOutputType], resolve: (task) => taskView(task).videos }),
    audios: t.field({ type: [AudioOutputType], resolve: (task) => taskView(task).audios }),
    error: t.field({ type: TaskErrorType, nullable: true, resolve: (task) => taskView(task).error }),
    cost: t.field({ type: TaskCostType, nullable: true, resolve: (task) => taskView(task).cost }),
    costEstimate: t.float({
      nullable: true,
      description:
        'The cost units COST_ESTIMATES gave the task when it was created, an estimate: reserved against your monthly budgets, and counted as its cost where the provider reports none (`cost` null).',
      resolve: (task) => (task.costEstimate === null ? null : Number(task.costEstimate)),
    }),
    createdAt: t.field({ type: 'DateTime', resolve: (task) => taskView(task).createdAt }),
    updatedAt: t.field({ type: 'DateTime', resolve: (task) => taskView(task).updatedAt }),
    completedAt: t.field({ type: 'DateTime', nullable: true, resolve: (task) => taskView(task).completedAt }),
    erasedAt: t.field({
      type: 'DateTime',
      nullable: true,
      description: 'When deleteTask erased the task’s stored media; null while they are kept.',
      resolve: (task) => task.erasedAt,
    }),
    events: t.connection({
      type: TaskEventType,
      description: 'The full history of the task, oldest first.',
      resolve: (task, args, ctx) =>
        resolveCursorConnection({ args, toCursor: (e) => String(e.id) }, (page: ResolveCursorConnectionArgs) =>
          listTaskEvents(ctx.db, task.id, {
            afterId: page.after === undefined ? undefined : parseEventCursor(page.after),
            beforeId: page.before === undefined ? undefined : parseEventCursor(page.before),
            limit: page.limit,
            inverted: page.inverted,
          }),
        ),
    }),
  }),
});

export const TaskFilterInput = builder.inputType('TaskFilter', {
  description: `Each list holds at most ${INPUT_LIMITS.listLength} values; repeated values count once. The creation range and the externalTaskId prefix apply to the tasks query only (taskEvents refuses them).`,
  fields: (t) => ({
    statuses: t.field({ type: [TaskStatusEnum] }),
    kinds: t.field({ type: [TaskKindEnum] }),
    providers: t.field({ type: [ProviderEnum] }),
    createdFrom: t.field({ type: 'DateTime', description: 'Tasks created at or after this instant.' }),
    createdTo: t.field({ type: 'DateTime', description: 'Tasks created before this instant.' }),
    externalTaskIdPrefix: t.string({
      description: `Tasks whose externalTaskId starts with this text (case-sensitive, at most ${EXTERNAL_TASK_ID_MAX} characters).`,
    }),
  }),
});

/**
 * A filter as the repository takes it: each list without repeats (at most one entry per enum value),
 * its range and prefix checked (BAD_USER_INPUT naming the field).
 */
export function normalizeFilter(filter: TaskFilter | null | undefined): TaskFilter | undefined {
  if (!filter) return undefined;
  const { createdFrom, createdTo, externalTaskIdPrefix } = filter;
  if (createdFrom && createdTo && createdFrom >= createdTo) {
    throw new GraphQLError('filter.createdTo: must be after filter.createdFrom', {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  if (externalTaskIdPrefix != null && externalTaskIdPrefix.length > EXTERNAL_TASK_ID_MAX) {
    throw new GraphQLError(`filter.externalTaskIdPrefix: at most ${EXTERNAL_TASK_ID_MAX} characters`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  const distinct = <T>(list: T[] | null | undefined) => (list ? [...new Set(list)] : list);
  return {
    statuses: distinct(filter.statuses),
    kinds: distinct(filter.kinds),
    providers: distinct(filter.providers),
    createdFrom,
    createdTo,
    externalTaskIdPrefix,
  };
}

builder.queryField('task', (t) =>
  t.field({
    type: TaskType,
    nullable: true,
    description: 'One task, by its id or by the externalTaskId the client gave it. Exactly one of the two.',
    args: {
      id: t.arg.globalID({ for: TaskType }),
      externalTaskId: t.arg.string(),
    },
    resolve: async (_root, args, ctx) => {
      if ((args.id == null) === (args.externalTaskId == null)) {
        throw new GraphQLError('give exactly one of id or externalTaskId', { extensions: { code: 'BAD_USER_INPUT' } });
      }
      if (args.id) return isUuid(args.id.id) ? findTask(ctx.db, ctx.principal.tenantId, { id: args.id.id }) : null;
      return findTask(ctx.db, ctx.principal.tenantId, { externalTaskId: args.externalTaskId! });
    },
  }),
);

builder.queryField('tasks', (t) =>
  t.connection(
    {
      type: TaskType,
      description: 'The tenant’s tasks, newest first.',
      args: { filter: t.arg({ type: TaskFilterInput }) },
      resolve: async (_root, args, ctx) => {
        const connection = await resolveCursorConnection(
          { args, toCursor: (task: TaskRow) => encodeTaskCursor(task), defaultSize: 20, maxSize: 100 },
          (page: ResolveCursorConnectionArgs) =>
            listTasks(ctx.db, ctx.principal.tenantId, {
              after: page.after === undefined ? undefined : parseTaskCursor(page.after, 'after'),
              before: page.before === undefined ? undefined : parseTaskCursor(page.before, 'before'),
              limit: page.limit,
              inverted: page.inverted,
              filter: normalizeFilter(args.filter),
            }),
        );
        // Counted only when asked for.
        return Object.assign(connection, {
          count: () => countTasks(ctx.db, ctx.principal.tenantId, normalizeFilter(args.filter)),
        });
      },
    },
    {
      fields: (t) => ({
        totalCount: t.int({
          description: 'How many of your tasks match the filter.',
          resolve: (connection) => (connection as unknown as { count: () => Promise<number> }).count(),
        }),
      }),
    },
  ),
);

function parseTaskCursor(cursor: string, arg: string): TaskCursor {
  const decoded = decodeTaskCursor(cursor);
  if (!decoded)
    throw new GraphQLError(`${arg}: is not a cursor of this connection`, { extensions: { code: 'BAD_USER_INPUT' } });
  return decoded;
}

function parseEventCursor(cursor: string): number {
  if (!/^\d{1,15}$/.test(cursor))
    throw new GraphQLError('invalid event cursor', { extensions: { code: 'BAD_USER_INPUT' } });
  return Number(cursor);
}
