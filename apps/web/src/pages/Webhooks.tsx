import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { ShownOnce } from '../components/ShownOnce';
import { TextField } from '../components/fields';
import { EmptyState, ErrorState, PageTitle, shortId, Time } from '../components/ui';
import { graphql, type ResultOf } from '../graphql';
import { href } from '../router';
import '../styles/settings.css';

const WebhookSettingsQuery = graphql(`
  query WebhookSettingsPage { webhookSettings { defaultUrl secretCreatedAt } }
`);

const DeliveriesQuery = graphql(`
  query WebhookDeliveriesPage($first: Int!, $after: String) {
    webhookDeliveries(first: $first, after: $after) {
      edges { node {
        id url status webhookId attemptCount nextAttemptAt redeliveryOf createdAt
        event { cursor status task { id } }
        attempts { attemptedAt httpStatus durationMs responseExcerpt error }
      } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

const SetDefaultUrlMutation = graphql(`
  mutation SetDefaultWebhookUrl($url: String) {
    setDefaultWebhookUrl(url: $url) {
      __typename
      ... on WebhookSettings { defaultUrl secretCreatedAt }
      ... on ValidationError { issues { path message } }
    }
  }
`);

const RotateSecretMutation = graphql(`
  mutation RotateWebhookSecret($graceHours: Int) {
    rotateWebhookSecret(graceHours: $graceHours) {
      __typename
      ... on WebhookSettings { secret secretCreatedAt }
      ... on ValidationError { issues { path message } }
    }
  }
`);

const SendTestMutation = graphql(`
  mutation SendTestWebhook($url: String) {
    sendTestWebhook(url: $url) {
      __typename
      ... on WebhookTestResult { url webhookId delivered httpStatus durationMs responseExcerpt error }
      ... on ValidationError { issues { path message } }
    }
  }
`);

const RedeliverMutation = graphql(`
  mutation RedeliverWebhook($id: ID!) { redeliverWebhook(deliveryId: $id) { id status } }
`);

type Connection = NonNullable<ResultOf<typeof DeliveriesQuery>['webhookDeliveries']>;
type Delivery = NonNullable<NonNullable<NonNullable<Connection['edges']>[number]>['node']>;

const STATUS_CLASS: Record<string, string> = {
  PENDING: 'status-pending',
  RETRYING: 'status-processing',
  DELIVERED: 'status-succeeded',
  FAILED: 'status-failed',
};

const PAGE = 20;

export function WebhooksPage() {
  return (
    <>
      <PageTitle>Webhooks</PageTitle>
      <p className="hint page-note">
        Each status change of a task with a webhook URL is posted there, signed (Standard Webhooks headers), in order
        per task, and retried for about 27 hours.
      </p>
      <div className="detail-grid">
        <DefaultUrlCard />
        <SecretCard />
      </div>
      <SendTestCard />
      <DeliveryLog />
    </>
  );
}

function DefaultUrlCard() {
  const [settings] = useQuery({ query: WebhookSettingsQuery });
  const [draft, setDraft] = useState<string | null>(null);
  const [state, save] = useMutation(SetDefaultUrlMutation);
  const current = settings.data?.webhookSettings?.defaultUrl ?? '';
  const value = draft ?? current;
  const result = state.data?.setDefaultWebhookUrl;
  const issue = result?.__typename === 'ValidationError' ? (result.issues?.[0]?.message ?? undefined) : undefined;
  return (
    <section className="card" aria-labelledby="wh-default-h">
      <h2 id="wh-default-h">Default URL</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void save({ url: value.trim() === '' ? null : value.trim() }).then((r) => {
            if (r.data?.setDefaultWebhookUrl?.__typename === 'WebhookSettings') setDraft(null);
          });
        }}
      >
        <TextField
          name="webhook-url"
          label="Default webhook URL"
          type="url"
          hint="Used by tasks that name no webhookUrl. Empty: such tasks get no webhooks."
          error={issue}
          value={value}
          onChange={setDraft}
        />
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={state.fetching}>
            {state.fetching ? 'Saving…' : 'Save URL'}
          </button>
          <span role="status" className="small muted">
            {result?.__typename === 'WebhookSettings' && draft === null ? 'Saved.' : ''}
          </span>
        </div>
      </form>
      {state.error ? <ErrorState error={state.error} title="The URL was not saved" /> : null}
    </section>
  );
}

function SecretCard() {
  const [settings] = useQuery({ query: WebhookSettingsQuery });
  const [grace, setGrace] = useState('24');
  const [state, rotate] = useMutation(RotateSecretMutation);
  const result = state.data?.rotateWebhookSecret;
  const issue = result?.__typename === 'ValidationError' ? (result.issues?.[0]?.message ?? undefined) : undefined;
  const created =
    result?.__typename === 'WebhookSettings' ? result.secretCreatedAt : settings.data?.webhookSettings?.secretCreatedAt;
  return (
    <section className="card" aria-labelledby="wh-secret-h">
      <h2 id="wh-secret-h">Signing secret</h2>
      <p>
        <span className="mono">whsec_••••••••</span> <span className="small muted">created </span>
        <Time value={created} />
      </p>
      {result?.__typename === 'WebhookSettings' && result.secret ? (
        <ShownOnce
          title="The new secret, shown this once:"
          secret={result.secret}
          copyLabel="Copy secret"
          testId="new-secret"
        />
      ) : null}
      <form
        onSubmit={(e) => {
          e.preventDefault();
          const hours = Number(grace);
          if (window.confirm(`Make a new signing secret? The current one keeps signing for ${hours} hours.`))
            void rotate({ graceHours: Number.isInteger(hours) ? hours : -1 });
        }}
      >
        <TextField
          name="grace-hours"
          label="Grace hours"
          inputMode="numeric"
          hint="How long the current secret keeps signing too (a second signature), 0 to 720."
          error={issue}
          value={grace}
          onChange={setGrace}
        />
        <div className="form-actions">
          <button type="submit" className="button" disabled={state.fetching}>
            {state.fetching ? 'Rotating…' : 'Rotate secret'}
          </button>
        </div>
      </form>
      {state.error ? <ErrorState error={state.error} title="The secret was not rotated" /> : null}
    </section>
  );
}

function SendTestCard() {
  const [url, setUrl] = useState('');
  const [state, send] = useMutation(SendTestMutation);
  const result = state.data?.sendTestWebhook;
  const issue = result?.__typename === 'ValidationError' ? (result.issues?.[0]?.message ?? undefined) : undefined;
  return (
    <section className="card" aria-labelledby="wh-test-h">
      <h2 id="wh-test-h">Send a test event</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void send({ url: url.trim() === '' ? null : url.trim() });
        }}
      >
        <TextField
          name="test-url"
          label="Test URL"
          type="url"
          hint="Empty: the default URL. A signed event of type webhook.test is posted now."
          error={issue}
          value={url}
          onChange={setUrl}
        />
        <div className="form-actions">
          <button type="submit" className="button primary" disabled={state.fetching}>
            {state.fetching ? 'Sending…' : 'Send test event'}
          </button>
        </div>
      </form>
      <div role="status" aria-live="polite">
        {result?.__typename === 'WebhookTestResult' ? (
          <div className={`callout ${result.delivered ? 'success' : 'error'}`} data-testid="test-result">
            <strong>
              {result.delivered ? 'Delivered' : 'Not delivered'}
              {result.httpStatus != null ? ` · HTTP ${result.httpStatus}` : ''} · {result.durationMs} ms
            </strong>
            <p className="small break">{result.url}</p>
            {result.error ? <p>{result.error}</p> : null}
            {result.responseExcerpt ? <pre className="json">{result.responseExcerpt}</pre> : null}
          </div>
        ) : null}
      </div>
      {state.error ? <ErrorState error={state.error} title="The test event was not sent" /> : null}
    </section>
  );
}

function DeliveryLog() {
  const [after, setAfter] = useState<(string | null)[]>([null]);
  const [first, refetch] = useQuery({ query: DeliveriesQuery, variables: { first: PAGE, after: null } });
  return (
    <section className="card" aria-labelledby="wh-log-h">
      <div className="page-head">
        <h2 id="wh-log-h">Deliveries</h2>
        <button type="button" className="button subtle" onClick={() => refetch({ requestPolicy: 'network-only' })}>
          Refresh
        </button>
      </div>
      {first.error && !first.data ? (
        <ErrorState error={first.error} title="The deliveries could not be loaded" retry={() => refetch()} />
      ) : null}
      {!first.data && !first.error ? <p aria-busy="true">Loading deliveries…</p> : null}
      {first.data && (first.data.webhookDeliveries?.edges ?? []).length === 0 ? (
        <EmptyState title="No deliveries yet." />
      ) : null}
      {first.data && (first.data.webhookDeliveries?.edges ?? []).length > 0 ? (
        <ul className="deliveries">
          {after.map((cursor, i) =>
            i === 0 ? (
              <DeliveryItems
                key="first"
                data={first.data}
                onMore={(c) => setAfter([null, c])}
                last={after.length === 1}
              />
            ) : (
              <MorePage
                key={cursor}
                after={cursor}
                last={i === after.length - 1}
                onMore={(c) => setAfter((list) => [...list, c])}
              />
            ),
          )}
        </ul>
      ) : null}
    </section>
  );
}

function MorePage({ after, last, onMore }: { after: string | null; last: boolean; onMore(cursor: string): void }) {
  const [page] = useQuery({ query: DeliveriesQuery, variables: { first: PAGE, after } });
  if (!page.data) return <li aria-busy="true">Loading…</li>;
  return <DeliveryItems data={page.data} onMore={onMore} last={last} />;
}

function DeliveryItems({
  data,
  onMore,
  last,
}: {
  data: ResultOf<typeof DeliveriesQuery> | undefined;
  onMore(cursor: string): void;
  last: boolean;
}) {
  const connection = data?.webhookDeliveries;
  const nodes = (connection?.edges ?? []).flatMap((e) => (e?.node ? [e.node] : []));
  const next = connection?.pageInfo.hasNextPage ? connection.pageInfo.endCursor : null;
  return (
    <>
      {nodes.map((d) => (
        <DeliveryItem key={d.id} delivery={d} />
      ))}
      {last && next ? (
        <li>
          <button type="button" className="button subtle load-more" onClick={() => onMore(next)}>
            Load more
          </button>
        </li>
      ) : null}
    </>
  );
}

function DeliveryItem({ delivery: d }: { delivery: Delivery }) {
  const [state, redeliver] = useMutation(RedeliverMutation);
  const taskId = d.event?.task?.id;
  return (
    <li className="delivery" data-delivery-id={d.id} data-status={d.status}>
      <details>
        <summary>
          <span className={`badge ${STATUS_CLASS[d.status ?? ''] ?? ''}`}>{d.status}</span>{' '}
          <span>
            {d.event ? `${d.event.status} event` : 'event'}
            {taskId ? (
              <>
                {' '}
                of task <a href={href.task(taskId)}>{shortId(taskId)}</a>
              </>
            ) : null}
          </span>{' '}
          <span className="small muted">
            <Time value={d.createdAt} short /> · {d.attemptCount} attempt{d.attemptCount === 1 ? '' : 's'}
            {d.nextAttemptAt ? (
              <>
                {' '}
                · next retry <Time value={d.nextAttemptAt} short />
              </>
            ) : null}
            {d.redeliveryOf ? ' · redelivery' : ''}
          </span>
        </summary>
        <p className="small">
          <span className="mono break">{d.url}</span> · <span className="mono">webhook-id {d.webhookId}</span>
        </p>
        {(d.attempts ?? []).length === 0 ? <p className="small muted">Not attempted yet.</p> : null}
        {(d.attempts ?? []).length > 0 ? (
          <table className="attempts">
            <caption className="sr-only">Attempts</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">HTTP status</th>
                <th scope="col">Duration</th>
                <th scope="col">Response (first 1 KiB) or error</th>
              </tr>
            </thead>
            <tbody>
              {(d.attempts ?? []).map((a) => (
                <tr key={a.attemptedAt}>
                  <td data-label="Time">
                    <Time value={a.attemptedAt} short />
                  </td>
                  <td data-label="HTTP status">{a.httpStatus ?? '—'}</td>
                  <td data-label="Duration">{a.durationMs} ms</td>
                  <td data-label="Response or error">
                    {a.error ? <div className="field-error">{a.error}</div> : null}
                    {a.responseExcerpt ? <pre className="json clamp">{a.responseExcerpt}</pre> : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : null}
        <div className="form-actions">
          <button
            type="button"
            className="button small"
            disabled={state.fetching}
            onClick={() => d.id && void redeliver({ id: d.id })}
          >
            {state.fetching ? 'Queuing…' : 'Redeliver'}
          </button>
          <span role="status" className="small muted">
            {state.data?.redeliverWebhook ? 'Queued again as a new delivery (same webhook-id).' : ''}
          </span>
        </div>
        {state.error ? <ErrorState error={state.error} title="The event was not redelivered" /> : null}
      </details>
    </li>
  );
}
