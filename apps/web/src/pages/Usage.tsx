import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip } from 'chart.js';
import { PROVIDERS, type Provider } from '@clipwire/schema';
import { useEffect, useMemo, useRef, useState } from 'react';
import { useQuery } from 'urql';
import { PageTitle, ErrorState, EmptyState, PROVIDER_LABEL } from '../components/ui';
import { graphql, type ResultOf } from '../graphql';
import { useSession } from '../session';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

const UsageQuery = graphql(`
  query UsagePage($from: DateTime!, $to: DateTime!) {
    usage(from: $from, to: $to, groupBy: [DAY, PROVIDER]) {
      day provider tasks succeeded failed canceled running costReported costEstimated mediaSeconds
    }
  }
`);

type Row = NonNullable<ResultOf<typeof UsageQuery>['usage']>[number];

const RANGES = [7, 30, 90] as const;
const COLORS: Record<Provider, string> = { KLING: '#4338ca', KIE: '#0d9488', DIGITAL_HUMAN: '#d97706' };

/** The UTC days from `days - 1` days ago to today, as YYYY-MM-DD (the API's buckets are UTC days). */
function utcDays(days: number): string[] {
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  return Array.from({ length: days }, (_, i) =>
    new Date(today - (days - 1 - i) * 86_400_000).toISOString().slice(0, 10),
  );
}

const cost = (r: Pick<Row, 'costReported' | 'costEstimated'>) => (r.costReported ?? 0) + (r.costEstimated ?? 0);
const taskCount = (r: Row) => r.tasks ?? 0;
const round = (n: number) => Math.round(n * 100) / 100;

/** Tasks and cost units per provider per UTC day, as charts, with each provider's totals and a CSV export. */
export function UsagePage() {
  const [days, setDays] = useState<(typeof RANGES)[number]>(30);
  const buckets = useMemo(() => utcDays(days), [days]);
  const from = `${buckets[0]}T00:00:00.000Z`;
  const to = new Date(Date.parse(`${buckets.at(-1)}T00:00:00.000Z`) + 86_400_000).toISOString();
  const [result, reexecute] = useQuery({ query: UsageQuery, variables: { from, to }, requestPolicy: 'network-only' });
  const rows = result.data?.usage ?? [];

  const totals = PROVIDERS.map((provider) => {
    const mine = rows.filter((r) => r.provider === provider);
    const sum = (pick: (r: Row) => number | null | undefined) => mine.reduce((n, r) => n + (pick(r) ?? 0), 0);
    return {
      provider,
      tasks: sum((r) => r.tasks),
      succeeded: sum((r) => r.succeeded),
      failed: sum((r) => r.failed),
      reported: sum((r) => r.costReported),
      estimated: sum((r) => r.costEstimated),
      seconds: sum((r) => r.mediaSeconds),
    };
  });
  const all = totals.reduce(
    (a, t) => ({
      tasks: a.tasks + t.tasks,
      succeeded: a.succeeded + t.succeeded,
      failed: a.failed + t.failed,
      reported: a.reported + t.reported,
      estimated: a.estimated + t.estimated,
      seconds: a.seconds + t.seconds,
    }),
    { tasks: 0, succeeded: 0, failed: 0, reported: 0, estimated: 0, seconds: 0 },
  );

  return (
    <>
      <PageTitle actions={<CsvLink from={from} to={to} />}>Usage</PageTitle>
      <fieldset className="toolbar usage-range">
        <legend className="sr-only">Period</legend>
        {RANGES.map((n) => (
          <button
            key={n}
            type="button"
            className={`button ${n === days ? 'primary' : 'subtle'}`}
            aria-pressed={n === days}
            onClick={() => setDays(n)}
          >
            Last {n} days
          </button>
        ))}
        <span className="muted small">
          UTC days, {buckets[0]} to {buckets.at(-1)}
        </span>
      </fieldset>
      {result.error && !result.data ? (
        <ErrorState error={result.error} title="Usage could not be loaded" retry={() => reexecute()} />
      ) : null}
      {result.fetching && !result.data ? <p aria-busy="true">Loading usage…</p> : null}
      {result.data && all.tasks === 0 ? <EmptyState title="No tasks in this period." /> : null}
      {result.data && all.tasks > 0 ? (
        <>
          <div className="usage-charts">
            <section className="card" aria-labelledby="usage-tasks-h">
              <h2 id="usage-tasks-h">Tasks per day</h2>
              <BarChart days={buckets} rows={rows} value={taskCount} label="Tasks per provider per day" />
            </section>
            <section className="card" aria-labelledby="usage-cost-h">
              <h2 id="usage-cost-h">Cost units per day</h2>
              <BarChart days={buckets} rows={rows} value={cost} label="Cost units per provider per day" />
            </section>
          </div>
          <section className="card" aria-labelledby="usage-totals-h">
            <h2 id="usage-totals-h">Totals</h2>
            <div className="table-wrap">
              <table className="usage-totals">
                <thead>
                  <tr>
                    <th scope="col">Provider</th>
                    <th scope="col">Tasks</th>
                    <th scope="col">Succeeded</th>
                    <th scope="col">Failed</th>
                    <th scope="col">Cost units (reported)</th>
                    <th scope="col">Cost units (estimated)</th>
                    <th scope="col">Seconds generated</th>
                  </tr>
                </thead>
                <tbody>
                  {totals
                    .filter((t) => t.tasks > 0)
                    .map((t) => (
                      <tr key={t.provider} data-provider={t.provider}>
                        <th scope="row">{PROVIDER_LABEL[t.provider]}</th>
                        <td>{t.tasks}</td>
                        <td>{t.succeeded}</td>
                        <td>{t.failed}</td>
                        <td>{round(t.reported)}</td>
                        <td>{round(t.estimated)}</td>
                        <td>{round(t.seconds)}</td>
                      </tr>
                    ))}
                </tbody>
                <tfoot>
                  <tr data-provider="ALL">
                    <th scope="row">All providers</th>
                    <td>{all.tasks}</td>
                    <td>{all.succeeded}</td>
                    <td>{all.failed}</td>
                    <td>{round(all.reported)}</td>
                    <td>{round(all.estimated)}</td>
                    <td>{round(all.seconds)}</td>
                  </tr>
                </tfoot>
              </table>
            </div>
            <p className="muted small">
              Each provider counts in its own units (Kling units, KIE credits); estimated units come from the price
              table for tasks whose provider reported no cost.
            </p>
          </section>
        </>
      ) : null}
    </>
  );
}

/** Stacked bars, one stack per UTC day, one colour per provider (Chart.js, drawn on a canvas). */
function BarChart({
  days,
  rows,
  value,
  label,
}: {
  days: string[];
  rows: readonly Row[];
  value(r: Row): number;
  label: string;
}) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const datasets = PROVIDERS.filter((p) => rows.some((r) => r.provider === p)).map((provider) => ({
      label: PROVIDER_LABEL[provider],
      backgroundColor: COLORS[provider],
      data: days.map((day) =>
        rows.filter((r) => r.provider === provider && r.day === day).reduce((n, r) => n + value(r), 0),
      ),
    }));
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: { labels: days.map((d) => d.slice(5)), datasets },
      options: {
        animation: false,
        maintainAspectRatio: false,
        scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true } },
        plugins: { legend: { position: 'bottom' } },
      },
    });
    return () => chart.destroy();
  }, [days, rows, value]);
  return (
    <div className="chart-box">
      <canvas ref={canvas} role="img" aria-label={label} />
    </div>
  );
}

/** The same numbers as CSV (GET /usage.csv, which needs the key in a header: fetched, then saved). */
function CsvLink({ from, to }: { from: string; to: string }) {
  const { apiKey } = useSession();
  const [error, setError] = useState<string | null>(null);
  async function download() {
    setError(null);
    const query = new URLSearchParams({ from, to, groupBy: 'DAY,PROVIDER' });
    const res = await fetch(`/usage.csv?${query}`, { headers: { authorization: `Bearer ${apiKey}` } });
    if (!res.ok) return setError(`The export failed (${res.status}).`);
    const url = URL.createObjectURL(await res.blob());
    const a = document.createElement('a');
    a.href = url;
    a.download = `clipwire-usage-${from.slice(0, 10)}-${to.slice(0, 10)}.csv`;
    a.click();
    URL.revokeObjectURL(url);
  }
  return (
    <>
      <button type="button" className="button subtle" onClick={() => void download()}>
        Download CSV
      </button>
      {error ? <span className="field-error">{error}</span> : null}
    </>
  );
}
