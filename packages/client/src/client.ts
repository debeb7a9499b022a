import type { TadaDocumentNode, VariablesOf } from 'gql.tada';
import {
  CancelTaskMutation,
  CreateAvatarVideoMutation,
  CreateVideoSoundMutation,
  LatestTaskEventCursorQuery,
  RefreshTaskMutation,
  TaskByExternalIdQuery,
  TaskByIdQuery,
  TaskEventsSubscription,
  TaskListQuery,
  TaskUpdatedSubscription,
  WebhookSettingsQuery,
  type CreateTaskResult,
  type FeedEvent,
  type Task,
  type TaskPage,
  type WebhookSettings,
} from './documents.js';
import { ClipwireError, resultError } from './errors.js';
import { postOperation, type HttpOptions } from './http.js';
import { Socket } from './subscriptions.js';

export type CreateAvatarVideoInput = VariablesOf<typeof CreateAvatarVideoMutation>['input'];
export type CreateVideoSoundInput = VariablesOf<typeof CreateVideoSoundMutation>['input'];
export type TaskFilter = NonNullable<VariablesOf<typeof TaskListQuery>['filter']>;
export type TaskStatus = NonNullable<Task['status']>;

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['SUCCEEDED', 'FAILED', 'CANCELED'];
export const isTerminal = (status: TaskStatus | null | undefined): boolean =>
  status != null && TERMINAL_STATUSES.includes(status);

export interface ClipwireOptions {
  /** The API's origin (`http://127.0.0.1:4000`) or its GraphQL endpoint (`…/graphql`; relative in a browser). */
  url: string;
  apiKey: string;
  /** Default: the global fetch. */
  fetch?: typeof fetch;
  /** Default: the global WebSocket, else the `ws` package (Node 20). */
  webSocketImpl?: unknown;
  /** WebSocket reconnection attempts (default 10); subscriptions resume after each. */
  retryAttempts?: number;
  /** Extra HTTP headers on every query and mutation. */
  headers?: Record<string, string>;
}

export interface CallOptions {
  signal?: AbortSignal;
}

export interface CreateOptions extends CallOptions {
  /**
   * false (default): resolve with the Task, throw a ClipwireError (`VALIDATION_ERROR`, …, with the
   * typed `result`) for an error result. true: resolve with the union as the API answered it.
   */
  returnErrors?: boolean;
}

export type Clipwire = ReturnType<typeof createClipwire>;

/** A client of one Clipwire API with one API key. Call `close()` when done with subscriptions. */
export function createClipwire(options: ClipwireOptions) {
  const endpoint = graphqlEndpoint(options.url);
  const http: HttpOptions = {
    endpoint,
    apiKey: options.apiKey,
    fetch: options.fetch ?? ((...args) => globalThis.fetch(...args)),
    ...(options.headers ? { headers: options.headers } : {}),
  };
  const socket = new Socket({
    url: endpoint.replace(/^http/, 'ws'),
    apiKey: options.apiKey,
    webSocketImpl: options.webSocketImpl,
    ...(options.retryAttempts === undefined ? {} : { retryAttempts: options.retryAttempts }),
  });
  const request = <R, V>(document: TadaDocumentNode<R, V>, variables: V, signal?: AbortSignal): Promise<R> =>
    postOperation(http, document, variables, signal);

  function created(result: CreateTaskResult | null, returnErrors: boolean | undefined): Task | CreateTaskResult {
    if (!result) throw new ClipwireError('GRAPHQL', 'The API answered no result for the create mutation.');
    if (returnErrors || result.__typename === 'Task') return result;
    throw resultError(result);
  }

  function createAvatarVideo(
    input: CreateAvatarVideoInput,
    options?: CreateOptions & { returnErrors?: false },
  ): Promise<Task>;
  function createAvatarVideo(
    input: CreateAvatarVideoInput,
    options: CreateOptions & { returnErrors: true },
  ): Promise<CreateTaskResult>;
  async function createAvatarVideo(input: CreateAvatarVideoInput, options: CreateOptions = {}) {
    const data = await request(CreateAvatarVideoMutation, { input }, options.signal);
    return created(data.createAvatarVideo, options.returnErrors);
  }

  function createVideoSound(
    input: CreateVideoSoundInput,
    options?: CreateOptions & { returnErrors?: false },
  ): Promise<Task>;
  function createVideoSound(
    input: CreateVideoSoundInput,
    options: CreateOptions & { returnErrors: true },
  ): Promise<CreateTaskResult>;
  async function createVideoSound(input: CreateVideoSoundInput, options: CreateOptions = {}) {
    const data = await request(CreateVideoSoundMutation, { input }, options.signal);
    return created(data.createVideoSound, options.returnErrors);
  }

  /**
   * The task's current state, then each change, until it is terminal (the last value). Nothing
   * falls between the read and the subscription (the API subscribes first, then reads); after a
   * dropped connection it resubscribes and goes on from the state then, without repeating one.
   * Throws `NOT_FOUND` for an unknown id.
   */
  async function* watchTask(id: string, options: CallOptions = {}): AsyncGenerator<Task, void, undefined> {
    let last: Task | undefined;
    const values = socket.subscribe(TaskUpdatedSubscription, { id }, options);
    try {
      for await (const { taskUpdated: task } of values) {
        if (!task) continue;
        if (last && last.status === task.status && last.updatedAt === task.updatedAt) continue;
        last = task;
        yield task;
      }
    } finally {
      await values.return?.();
    }
    if (!last) throw new ClipwireError('NOT_FOUND', `No task ${id}.`);
  }

  /** Resolves with the task once it is terminal; rejects with `TIMEOUT` after `timeoutMs`. */
  async function waitForTask(id: string, options: CallOptions & { timeoutMs?: number } = {}): Promise<Task> {
    const timeoutMs = options.timeoutMs ?? 30 * 60_000;
    const controller = new AbortController();
    const onAbort = () => controller.abort(options.signal?.reason);
    if (options.signal?.aborted) onAbort();
    else options.signal?.addEventListener('abort', onAbort, { once: true });
    let last: Task | undefined;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, timeoutMs);
    try {
      for await (const task of watchTask(id, { signal: controller.signal })) {
        last = task;
        if (isTerminal(task.status)) return task;
      }
      throw new ClipwireError('NETWORK', `The subscription to task ${id} ended before the task was final.`);
    } catch (error) {
      if (timedOut) {
        throw new ClipwireError(
          'TIMEOUT',
          `Task ${id} was not final after ${timeoutMs} ms (last status: ${last?.status ?? 'unknown'}).`,
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Your tenant's events after the cursor `after` (every event since the first when omitted; pass
   * `await cw.latestTaskEventCursor()` to follow only new ones), oldest first, each with its
   * `cursor` and its task. Never ends by itself. After a dropped connection it resumes from the
   * last cursor yielded: every event exactly once, in order. Store the last cursor you handled to
   * resume from it in another process.
   */
  async function* taskEvents(
    options: CallOptions & { after?: string | null; filter?: TaskFilter } = {},
  ): AsyncGenerator<FeedEvent, void, undefined> {
    let cursor = options.after ?? null;
    let variables: Record<string, unknown> = {};
    const values = socket.subscribe(
      TaskEventsSubscription,
      { after: cursor, ...(options.filter ? { filter: options.filter } : {}) },
      { ...options, payload: (p) => void (variables = p.variables ?? {}) },
    );
    try {
      for await (const { taskEvents: event } of values) {
        if (!event?.cursor) continue;
        if (cursor !== null && Number(event.cursor) <= Number(cursor)) continue;
        cursor = event.cursor;
        // graphql-ws sends this payload again on a reconnection: from the last cursor, not the first.
        variables['after'] = cursor;
        yield event;
      }
    } finally {
      await values.return?.();
    }
  }

  return {
    /** The GraphQL endpoint in use. */
    endpoint,
    createAvatarVideo,
    createVideoSound,
    /** A task by its id, or by your `externalTaskId`; null when there is none. */
    async task(ref: string | { id: string } | { externalTaskId: string }, options: CallOptions = {}) {
      if (typeof ref !== 'string' && 'externalTaskId' in ref) {
        return (await request(TaskByExternalIdQuery, { externalTaskId: ref.externalTaskId }, options.signal)).task;
      }
      const id = typeof ref === 'string' ? ref : ref.id;
      return (await request(TaskByIdQuery, { id }, options.signal)).task;
    },
    /** One page of your tasks, newest first (Relay cursors: `first`/`after` or `last`/`before`). */
    async tasks(
      args: { first?: number; after?: string; last?: number; before?: string; filter?: TaskFilter } = { first: 20 },
      options: CallOptions = {},
    ): Promise<{ tasks: Task[]; totalCount: number | null; pageInfo: TaskPage['pageInfo'] }> {
      const page = (await request(TaskListQuery, args, options.signal)).tasks;
      if (!page) throw new ClipwireError('GRAPHQL', 'The API answered no task page.');
      const tasks = (page.edges ?? []).flatMap((e) => (e?.node ? [e.node] : []));
      return { tasks, totalCount: page.totalCount, pageInfo: page.pageInfo };
    },
    async cancelTask(id: string, options: CallOptions = {}) {
      return (await request(CancelTaskMutation, { id }, options.signal)).cancelTask;
    },
    async refreshTask(id: string, options: CallOptions = {}) {
      return (await request(RefreshTaskMutation, { id }, options.signal)).refreshTask;
    },
    watchTask,
    waitForTask,
    taskEvents,
    /** The cursor of your newest event (null when there is none), to follow the feed from now. */
    async latestTaskEventCursor(options: CallOptions = {}): Promise<string | null> {
      return (await request(LatestTaskEventCursorQuery, {}, options.signal)).latestTaskEventCursor;
    },
    /** Your webhook settings, with the secret that `verifyWebhook` needs. */
    async webhookSettings(options: CallOptions = {}): Promise<WebhookSettings> {
      const settings = (await request(WebhookSettingsQuery, {}, options.signal)).webhookSettings;
      if (!settings) throw new ClipwireError('GRAPHQL', 'The API answered no webhook settings.');
      return settings;
    },
    /** Any query or mutation written with this package's `graphql` (typed from the schema). */
    request,
    /** Closes the WebSocket (ending every subscription). */
    close: () => socket.dispose(),
  };
}

/**
 * `http://host:4000` → `http://host:4000/graphql`; a URL already naming a path is kept. In a browser
 * a relative URL (`/graphql`) is read against the page's.
 */
function graphqlEndpoint(url: string): string {
  const base = typeof location === 'undefined' ? undefined : location.href;
  const parsed = new URL(url, base);
  if (parsed.pathname === '/' || parsed.pathname === '') parsed.pathname = '/graphql';
  return parsed.toString();
}
