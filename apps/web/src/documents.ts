import { graphql, type ResultOf } from './graphql';

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

export const TaskDetailFields = graphql(
  `
  fragment TaskDetailFields on Task {
    ...TaskRowFields
    providerTaskId
    input
    completedAt
    videos { id url watermarkUrl durationSeconds }
    audios { id mp3Url wavUrl mp3DurationSeconds wavDurationSeconds }
    error { code message providerCode }
    cost { units }
  }
`,
  [TaskRowFields],
);

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
      ...TaskDetailFields
      events(first: 50) {
        edges { node { id status message source occurredAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`,
  [TaskDetailFields],
);

/** Later pages of a task's timeline. */
export const TaskEventsQuery = graphql(`
  query TaskEvents($id: ID!, $after: String!) {
    task(id: $id) {
      id
      events(first: 50, after: $after) {
        edges { node { id status message source occurredAt } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }
`);

export const TaskDetailUpdated = graphql(
  `
  subscription TaskDetailUpdated($id: ID!) {
    taskUpdated(id: $id) { ...TaskDetailFields }
  }
`,
  [TaskDetailFields],
);

export const CancelTaskMutation = graphql(
  `
  mutation CancelTask($id: ID!) {
    cancelTask(id: $id) { ...TaskDetailFields }
  }
`,
  [TaskDetailFields],
);

export const RefreshTaskMutation = graphql(
  `
  mutation RefreshTask($id: ID!) {
    refreshTask(id: $id) { ...TaskDetailFields }
  }
`,
  [TaskDetailFields],
);

export const ProvidersQuery = graphql(`
  query Providers {
    providers { provider configured mode capabilities callbacks circuit inFlight limit }
  }
`);

const CreateResultFields = graphql(`
  fragment CreateResultFields on CreateTaskResult {
    __typename
    ... on Task { id status }
    ... on ValidationError { message issues { path message } }
    ... on DuplicateExternalTaskId { message externalTaskId }
    ... on ProviderUnavailable { message provider }
  }
`);

export const CreateAvatarVideoMutation = graphql(
  `
  mutation CreateAvatarVideo($input: CreateAvatarVideoInput!) {
    createAvatarVideo(input: $input) { ...CreateResultFields }
  }
`,
  [CreateResultFields],
);

export const CreateVideoSoundMutation = graphql(
  `
  mutation CreateVideoSound($input: CreateVideoSoundInput!) {
    createVideoSound(input: $input) { ...CreateResultFields }
  }
`,
  [CreateResultFields],
);

export type TaskRow = ResultOf<typeof TaskRowFields>;
export type TaskDetail = ResultOf<typeof TaskDetailFields>;
export type CreateResult = ResultOf<typeof CreateResultFields>;

/** What "Run again" fills the new-task form from. */
export const TaskInputQuery = graphql(`
  query TaskInput($id: ID!) {
    task(id: $id) { id kind provider input }
  }
`);
