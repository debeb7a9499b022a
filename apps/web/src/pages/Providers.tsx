import { useEffect, useState } from 'react';
import { useQuery } from 'urql';
import { ProvidersQuery } from '../documents';
import { EmptyState, ErrorState, kindLabel, label, PageTitle, providerLabel } from '../components/ui';

const REFRESH_MS = 5000;

const CIRCUIT_TEXT: Record<string, string> = {
  CLOSED: 'Healthy',
  OPEN: 'Failing: calls held back',
  HALF_OPEN: 'Trying a call',
};

export function ProvidersPage() {
  const [result, reexecute] = useQuery({ query: ProvidersQuery, requestPolicy: 'cache-and-network' });
  const [checkedAt, setCheckedAt] = useState<Date | null>(null);

  useEffect(() => {
    if (result.data && !result.stale && !result.fetching) setCheckedAt(new Date());
  }, [result.data, result.stale, result.fetching]);

  // Health and load change by the second: read them again while the page is visible.
  useEffect(() => {
    const timer = window.setInterval(() => {
      if (document.visibilityState === 'visible') reexecute({ requestPolicy: 'network-only' });
    }, REFRESH_MS);
    return () => window.clearInterval(timer);
  }, [reexecute]);

  const providers = result.data?.providers ?? [];
  return (
    <>
      <PageTitle
        actions={
          <button type="button" className="button subtle" onClick={() => reexecute({ requestPolicy: 'network-only' })}>
            Refresh
          </button>
        }
      >
        Providers
      </PageTitle>
      <p className="hint page-note">
        Health and load of this API process, read every {REFRESH_MS / 1000} s
        {checkedAt ? <> · last read {checkedAt.toLocaleTimeString()}</> : null}.
      </p>
      {result.error && !result.data ? (
        <ErrorState
          error={result.error}
          title="The providers could not be loaded"
          retry={() => reexecute({ requestPolicy: 'network-only' })}
        />
      ) : null}
      {!result.data && !result.error ? <p aria-busy="true">Loading providers…</p> : null}
      {result.data && providers.length === 0 ? <EmptyState title="No providers are configured." /> : null}
      {providers.length > 0 ? (
        <div className="table-wrap">
          <table className="providers">
            <caption className="sr-only">Providers: mode, capabilities, health and load</caption>
            <thead>
              <tr>
                <th scope="col">Provider</th>
                <th scope="col">Mode</th>
                <th scope="col">Capabilities</th>
                <th scope="col">Updates by</th>
                <th scope="col">Health</th>
                <th scope="col">In flight / limit</th>
              </tr>
            </thead>
            <tbody>
              {providers.map((p) => (
                <tr key={p.provider} data-provider={p.provider}>
                  <th scope="row" data-label="Provider">
                    <div>
                      {providerLabel(p.provider)}
                      {!p.configured ? <div className="small muted">not configured</div> : null}
                    </div>
                  </th>
                  <td data-label="Mode">
                    {p.mode ? <span className={`mode mode-${p.mode.toLowerCase()}`}>{label(p.mode)}</span> : '—'}
                  </td>
                  <td data-label="Capabilities">
                    {(p.capabilities ?? []).length ? (
                      (p.capabilities ?? []).map(kindLabel).join(', ')
                    ) : (
                      <span className="muted">none</span>
                    )}
                  </td>
                  <td data-label="Updates by">{p.callbacks ? 'Callbacks' : 'Polling'}</td>
                  <td data-label="Health">
                    {p.circuit ? (
                      <div>
                        <span className={`badge circuit-${p.circuit.toLowerCase()}`} data-circuit={p.circuit}>
                          {label(p.circuit)}
                        </span>
                        <div className="small muted">{CIRCUIT_TEXT[p.circuit]}</div>
                      </div>
                    ) : (
                      '—'
                    )}
                  </td>
                  <td data-label="In flight / limit">
                    <Load inFlight={p.inFlight ?? 0} limit={p.limit ?? null} />
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

function Load({ inFlight, limit }: { inFlight: number; limit: number | null }) {
  if (limit == null) {
    return (
      <span>
        {inFlight} <span className="muted">/ no limit</span>
      </span>
    );
  }
  return (
    <span className="load">
      <meter
        min={0}
        max={limit}
        value={inFlight}
        high={Math.max(1, limit * 0.8)}
        aria-label={`${inFlight} of ${limit} slots in use`}
      />
      <span>
        {inFlight} / {limit}
      </span>
    </span>
  );
}
