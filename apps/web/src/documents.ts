import { TaskFields, TaskRowFields, type Task, type TaskRow } from '@clipwire/client';
import { graphql } from './graphql';

/*
 * The console's own queries and subscriptions, built on @clipwire/client's fragments. The task
 * fragments, the create, cancel and refresh mutations and their result types are the package's.
 */
export {
  CancelTaskMutation,
  CreateAvatarVideoMutation,
  CreateVideoSoundMutation,
  RefreshTaskMutation,
  TaskFields,
  TaskRowFields,
} from '@clipwire/client';
export type { CreateTaskResult as CreateResult } from '@clipwire/client';
export type { TaskRow };
/** A task with every field but its timeline (the package's TaskFields). */
export type TaskDetail = Task;

export const TasksQuery = graphql(
  `
  query Tasks($first: Int!, $after: String, $filter: TaskFilter, $count: Boolean!) {
    tasks(first: $first, after: $after, filter: $filter) {
      totalCount @include(if: $count)
      edges { cursor node { ...TaskRowFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`,
  [TaskRowFields],
);

/** Where the live list starts following the tenant's feed: read before the list's first page. */
export const LatestTaskEventCursorQuery = graphql(`
  query LatestTaskEventCursor {
    latestTaskEventCursor
  }
`);

/** The tenant's feed: each event with its task's row, so one subscription keeps the whole list live. */
export const TaskFeedSubscription = graphql(
  `
  subscription TaskFeed($filter: TaskFilter, $after: String) {
    taskEvents(filter: $filter, after: $after) {
      cursor
      task { ...TaskRowFields }
    }
  }
`,
  [TaskRowFields],
);

/**
 * The task and the first page of its timeline. Page sizes stay within the API's query cost limit
 * (graphql-armor counts `first` as a multiplier).
 */
export const TaskQuery = graphql(
  `
  query Task($id: ID!) {
    task(id: $id) {
      ...TaskFields
      inputMedia { mime sizeBytes url deletedAt }
      events(first: 50) {
        edges { node { id type status message source occurredAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`,
  [TaskFields],
);

/** Later pages of a task's timeline. */
export const TaskEventsQuery = graphql(`
  query TaskEvents($id: ID!, $after: String!) {
    task(id: $id) {
      id
      events(first: 50, after: $after) {
        edges { node { id type status message source occurredAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);

export const TaskDetailUpdated = graphql(
  `
  subscription TaskDetailUpdated($id: ID!) {
    taskUpdated(id: $id) { ...TaskFields }
  }
`,
  [TaskFields],
);

export const ProvidersQuery = graphql(`
  query Providers {
    providers { provider configured mode capabilities callbacks circuit inFlight limit }
  }
`);

/** What "Run again" fills the new-task form from. */
export const TaskInputQuery = graphql(`
  query TaskInput($id: ID!) {
    task(id: $id) { id kind provider input }
  }
`);
