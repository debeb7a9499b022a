import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { ShownOnce } from '../components/ShownOnce';
import { TextField } from '../components/fields';
import { EmptyState, ErrorState, PageTitle, Time } from '../components/ui';
import { graphql } from '../graphql';
import '../styles/settings.css';

const ApiKeysQuery = graphql(`
  query ApiKeysPage { apiKeys { id tenant name scope prefix createdAt lastUsedAt revokedAt } }
`);

const CreateKeyMutation = graphql(`
  mutation CreateApiKeyPage($name: String!, $tenant: String) {
    createApiKey(name: $name, tenant: $tenant) {
      __typename
      ... on CreatedApiKey { key apiKey { id name tenant prefix } }
      ... on ValidationError { issues { path message } }
    }
  }
`);

const RevokeKeyMutation = graphql(`
  mutation RevokeApiKeyPage($id: ID!) { revokeApiKey(id: $id) { id revokedAt } }
`);

export function ApiKeysPage() {
  const [keys, refetch] = useQuery({ query: ApiKeysQuery, requestPolicy: 'cache-and-network' });
  const [name, setName] = useState('');
  const [tenant, setTenant] = useState('');
  const [created, create] = useMutation(CreateKeyMutation);
  const [revoked, revoke] = useMutation(RevokeKeyMutation);
  const result = created.data?.createApiKey;
  const issues = (result?.__typename === 'ValidationError' ? result.issues : null) ?? [];
  const issueOf = (field: string) => issues.find((i) => i.path?.[0] === field)?.message ?? undefined;
  const list = keys.data?.apiKeys ?? [];
  const tenants = new Set(list.map((k) => k.tenant));
  return (
    <>
      <PageTitle
        actions={
          <button type="button" className="button subtle" onClick={() => refetch({ requestPolicy: 'network-only' })}>
            Refresh
          </button>
        }
      >
        API keys
      </PageTitle>
      <p className="hint page-note">
        Keys are shown once, when they are made: Clipwire keeps only their SHA-256. Last use is kept to within a minute.
      </p>
      <section className="card" aria-labelledby="key-new-h">
        <h2 id="key-new-h">New key</h2>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            void create({ name: name.trim(), tenant: tenant.trim() === '' ? null : tenant.trim() }).then((r) => {
              if (r.data?.createApiKey?.__typename === 'CreatedApiKey') {
                setName('');
                setTenant('');
                refetch({ requestPolicy: 'network-only' });
              }
            });
          }}
        >
          <TextField name="key-name" label="Name" required error={issueOf('name')} value={name} onChange={setName} />
          <TextField
            name="key-tenant"
            label="Tenant"
            hint="Admin keys only: another tenant's name (created if it does not exist). Empty: your tenant."
            error={issueOf('tenant')}
            value={tenant}
            onChange={setTenant}
          />
          <div className="form-actions">
            <button type="submit" className="button primary" disabled={created.fetching}>
              {created.fetching ? 'Creating…' : 'Create key'}
            </button>
          </div>
        </form>
        {created.error ? <ErrorState error={created.error} title="The key was not created" /> : null}
        {result?.__typename === 'CreatedApiKey' && result.key ? (
          <ShownOnce
            title={`Key “${result.apiKey?.name}” for ${result.apiKey?.tenant}, shown this once:`}
            secret={result.key}
            copyLabel="Copy key"
            testId="new-key"
          />
        ) : null}
      </section>
      {revoked.error ? <ErrorState error={revoked.error} title="The key was not revoked" /> : null}
      {keys.error && !keys.data ? (
        <ErrorState error={keys.error} title="The keys could not be loaded" retry={() => refetch()} />
      ) : null}
      {!keys.data && !keys.error ? <p aria-busy="true">Loading keys…</p> : null}
      {keys.data && list.length === 0 ? <EmptyState title="No keys." /> : null}
      {list.length > 0 ? (
        <div className="table-wrap">
          <table className="keys">
            <caption className="sr-only">API keys: name, prefix, creation, last use and state</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                {tenants.size > 1 ? <th scope="col">Tenant</th> : null}
                <th scope="col">Prefix</th>
                <th scope="col">Scope</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">State</th>
              </tr>
            </thead>
            <tbody>
              {list.map((k) => (
                <tr key={k.id} data-key-id={k.id} data-state={k.revokedAt ? 'revoked' : 'active'}>
                  <th scope="row" data-label="Name">
                    {k.name}
                  </th>
                  {tenants.size > 1 ? <td data-label="Tenant">{k.tenant}</td> : null}
                  <td data-label="Prefix">
                    <span className="mono">{k.prefix}…</span>
                  </td>
                  <td data-label="Scope">{k.scope === 'ADMIN' ? 'Admin' : 'Tenant'}</td>
                  <td data-label="Created">
                    <Time value={k.createdAt} />
                  </td>
                  <td data-label="Last used" data-field="last-used">
                    {k.lastUsedAt ? <Time value={k.lastUsedAt} /> : <span className="muted">never</span>}
                  </td>
                  <td data-label="State">
                    {k.revokedAt ? (
                      <span>
                        Revoked <Time value={k.revokedAt} />
                      </span>
                    ) : (
                      <button
                        type="button"
                        className="button small danger"
                        aria-label={`Revoke ${k.name} (${k.prefix}…)`}
                        disabled={revoked.fetching}
                        onClick={() => {
                          if (
                            window.confirm(
                              `Revoke “${k.name}” (${k.prefix}…)? Requests with it are refused within seconds; this cannot be undone.`,
                            )
                          )
                            if (k.id) void revoke({ id: k.id }).then(() => refetch({ requestPolicy: 'network-only' }));
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </>
  );
}
