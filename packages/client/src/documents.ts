import { graphql, type ResultOf } from './graphql.js';

/*
 * The documents the client sends, typed from the committed schema. They are exported so that front
 * ends (the console) build their own queries from the same fragments.
 */

/** What a task list shows of a task. */
export const TaskRowFields = graphql(`
  fragment TaskRowFields on Task {
    id
    kind
    provider
    model
    status
    statusMessage
    progress
    externalTaskId
    createdAt
    updatedAt
  }
`);

/** Every field of a task but its timeline: what `task(id)`, `watchTask` and `waitForTask` give. */
export const TaskFields = graphql(
  `
  fragment TaskFields on Task {
    ...TaskRowFields
    providerTaskId
    input
    completedAt
    videos { id url watermarkUrl durationSeconds }
    audios { id mp3Url wavUrl mp3DurationSeconds wavDurationSeconds }
    error { code message providerCode }
    cost { units }
    attempts { provider outcome code message at }
    route
  }
`,
  [TaskRowFields],
);

/** One status change; its `cursor` orders every event of the tenant. */
export const TaskEventFields = graphql(`
  fragment TaskEventFields on TaskEvent {
    id
    cursor
    status
    message
    source
    occurredAt
  }
`);

/** A create mutation's answer: the task, or the error result that says why nothing was created. */
export const CreateTaskResultFields = graphql(
  `
  fragment CreateTaskResultFields on CreateTaskResult {
    __typename
    ... on Task { ...TaskFields }
    ... on ValidationError { message issues { path message } }
    ... on DuplicateExternalTaskId { message externalTaskId task { id } }
    ... on ProviderUnavailable { message providerName: provider }
    ... on ProviderRejected { message providerName: provider providerCode }
    ... on QuotaExceeded { message limit provider max used requested resetsAt }
  }
`,
  [TaskFields],
);

export const CreateAvatarVideoMutation = graphql(
  `
  mutation CreateAvatarVideo($input: CreateAvatarVideoInput!) {
    createAvatarVideo(input: $input) { ...CreateTaskResultFields }
  }
`,
  [CreateTaskResultFields],
);

export const CreateVideoSoundMutation = graphql(
  `
  mutation CreateVideoSound($input: CreateVideoSoundInput!) {
    createVideoSound(input: $input) { ...CreateTaskResultFields }
  }
`,
  [CreateTaskResultFields],
);

export const TaskByIdQuery = graphql(
  `
  query TaskById($id: ID!) {
    task(id: $id) { ...TaskFields }
  }
`,
  [TaskFields],
);

export const TaskByExternalIdQuery = graphql(
  `
  query TaskByExternalId($externalTaskId: String!) {
    task(externalTaskId: $externalTaskId) { ...TaskFields }
  }
`,
  [TaskFields],
);

export const TaskListQuery = graphql(
  `
  query TaskList($first: Int, $after: String, $last: Int, $before: String, $filter: TaskFilter) {
    tasks(first: $first, after: $after, last: $last, before: $before, filter: $filter) {
      totalCount
      edges { cursor node { ...TaskFields } }
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    }
  }
`,
  [TaskFields],
);

export const CancelTaskMutation = graphql(
  `
  mutation CancelTask($id: ID!) {
    cancelTask(id: $id) { ...TaskFields }
  }
`,
  [TaskFields],
);

export const RefreshTaskMutation = graphql(
  `
  mutation RefreshTask($id: ID!) {
    refreshTask(id: $id) { ...TaskFields }
  }
`,
  [TaskFields],
);

export const LatestTaskEventCursorQuery = graphql(`
  query LatestTaskEventCursor {
    latestTaskEventCursor
  }
`);

export const WebhookSettingsQuery = graphql(`
  query WebhookSettings {
    webhookSettings { defaultUrl secret secretCreatedAt }
  }
`);

export const TaskUpdatedSubscription = graphql(
  `
  subscription TaskUpdated($id: ID!) {
    taskUpdated(id: $id) { ...TaskFields }
  }
`,
  [TaskFields],
);

export const TaskEventsSubscription = graphql(
  `
  subscription TaskEventsFeed($after: String, $filter: TaskFilter) {
    taskEvents(after: $after, filter: $filter) {
      ...TaskEventFields
      task { ...TaskFields }
    }
  }
`,
  [TaskEventFields, TaskFields],
);

export type TaskRow = ResultOf<typeof TaskRowFields>;
export type Task = ResultOf<typeof TaskFields>;
export type TaskEvent = ResultOf<typeof TaskEventFields>;
/** An event of the feed, with its task as it is now. */
export type FeedEvent = NonNullable<ResultOf<typeof TaskEventsSubscription>['taskEvents']>;
export type CreateTaskResult = ResultOf<typeof CreateTaskResultFields>;
/** The members of CreateTaskResult that say why nothing was created. */
export type CreateTaskError = Exclude<CreateTaskResult, { __typename: 'Task' }>;
export type TaskPage = NonNullable<ResultOf<typeof TaskListQuery>['tasks']>;
export type WebhookSettings = NonNullable<ResultOf<typeof WebhookSettingsQuery>['webhookSettings']>;
