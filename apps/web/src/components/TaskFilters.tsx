import { useId, useState } from 'react';
import { PROVIDERS, type Provider, TASK_KINDS, TASK_STATUSES, type TaskKind, type TaskStatus } from '@clipwire/schema';
import type { TasksQuery } from '../documents';
import type { VariablesOf } from '../graphql';
import { KIND_LABEL, label, PROVIDER_LABEL } from './ui';

type Filter = NonNullable<VariablesOf<typeof TasksQuery>['filter']>;

/**
 * The task list's filters: any of these statuses, kinds and providers (an empty list: all), a creation
 * range in the browser's local dates (`from`/`to` as yyyy-mm-dd, both days included) and an
 * externalTaskId prefix.
 */
export interface FilterState {
  statuses: TaskStatus[];
  kinds: TaskKind[];
  providers: Provider[];
  from: string;
  to: string;
  externalPrefix: string;
}

const DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The filters a URL's query names (unknown values are dropped): `status=A,B&kind=…&provider=…&from=…&to=…&q=…`. */
export function filtersFromQuery(query: URLSearchParams): FilterState {
  const list = <T extends string>(name: string, allowed: readonly T[]) =>
    (query.get(name) ?? '').split(',').filter((v): v is T => (allowed as readonly string[]).includes(v));
  const date = (name: string) => {
    const v = query.get(name) ?? '';
    return DATE.test(v) ? v : '';
  };
  return {
    statuses: list('status', TASK_STATUSES),
    kinds: list('kind', TASK_KINDS),
    providers: list('provider', PROVIDERS),
    from: date('from'),
    to: date('to'),
    externalPrefix: query.get('q') ?? '',
  };
}

export function filtersToQuery(f: FilterState): URLSearchParams {
  const query = new URLSearchParams();
  if (f.statuses.length) query.set('status', f.statuses.join(','));
  if (f.kinds.length) query.set('kind', f.kinds.join(','));
  if (f.providers.length) query.set('provider', f.providers.join(','));
  if (f.from) query.set('from', f.from);
  if (f.to) query.set('to', f.to);
  if (f.externalPrefix) query.set('q', f.externalPrefix);
  return query;
}

/** Local midnight of a yyyy-mm-dd day, `days` later. */
function localDay(day: string, days = 0): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  return new Date(y, m - 1, d + days).toISOString();
}

export function toFilter(f: FilterState): Filter | null {
  const filter: Filter = {};
  if (f.statuses.length) filter.statuses = f.statuses;
  if (f.kinds.length) filter.kinds = f.kinds;
  if (f.providers.length) filter.providers = f.providers;
  if (f.from) filter.createdFrom = localDay(f.from);
  if (f.to) filter.createdTo = localDay(f.to, 1);
  if (f.externalPrefix) filter.externalTaskIdPrefix = f.externalPrefix;
  return Object.keys(filter).length ? filter : null;
}

/** The filter the live feed can take (taskEvents filters by status, kind and provider only). */
export function toFeedFilter(f: FilterState): Filter | null {
  const filter: Filter = {};
  if (f.kinds.length) filter.kinds = f.kinds;
  if (f.providers.length) filter.providers = f.providers;
  return Object.keys(filter).length ? filter : null;
}

export function activeFilters(f: FilterState): number {
  return (
    f.statuses.length +
    f.kinds.length +
    f.providers.length +
    (f.from ? 1 : 0) +
    (f.to ? 1 : 0) +
    (f.externalPrefix ? 1 : 0)
  );
}

/** One checkbox group a filter, in this order; the values are @clipwire/schema's lists. */
const GROUPS = {
  statuses: { legend: 'Status', options: TASK_STATUSES, label },
  kinds: { legend: 'Capability', options: TASK_KINDS, label: (k: string) => KIND_LABEL[k as TaskKind] ?? k },
  providers: { legend: 'Provider', options: PROVIDERS, label: (p: string) => PROVIDER_LABEL[p as Provider] ?? p },
} satisfies Record<
  'statuses' | 'kinds' | 'providers',
  { legend: string; options: readonly string[]; label(v: string): string }
>;

/** `onChange` gets what changed (merged by the page into the filters as they are then, not as rendered). */
export function TaskFilters({ value, onChange }: { value: FilterState; onChange(patch: Partial<FilterState>): void }) {
  const active = activeFilters(value) - (value.externalPrefix ? 1 : 0);
  // Open while filters are on, and kept open (until the user closes it) when the last one is turned off.
  const [open, setOpen] = useState(active > 0);
  const id = useId();
  return (
    <details className="filters" open={open} onToggle={(e) => setOpen(e.currentTarget.open)}>
      <summary>Filters{active ? <span className="count"> ({active} on)</span> : null}</summary>
      <div className="filter-groups">
        {(Object.keys(GROUPS) as (keyof typeof GROUPS)[]).map((key) => (
          <CheckGroup
            key={key}
            legend={GROUPS[key].legend}
            options={GROUPS[key].options}
            labels={GROUPS[key].label}
            value={value[key]}
            onChange={(next) => onChange({ [key]: next })}
          />
        ))}
        <fieldset className="check-group dates">
          <legend>Created (your local dates)</legend>
          <label htmlFor={`${id}-from`}>From</label>
          <input
            id={`${id}-from`}
            type="date"
            value={value.from}
            max={value.to || undefined}
            onChange={(e) => onChange({ from: e.target.value })}
          />
          <label htmlFor={`${id}-to`}>To</label>
          <input
            id={`${id}-to`}
            type="date"
            value={value.to}
            min={value.from || undefined}
            onChange={(e) => onChange({ to: e.target.value })}
          />
        </fieldset>
        {active ? (
          <button
            type="button"
            className="button subtle"
            onClick={() => onChange({ statuses: [], kinds: [], providers: [], from: '', to: '' })}
          >
            Clear filters
          </button>
        ) : null}
      </div>
    </details>
  );
}

function CheckGroup({
  legend,
  options,
  labels,
  value,
  onChange,
}: {
  legend: string;
  options: readonly string[];
  labels(v: string): string;
  value: readonly string[];
  onChange(v: string[]): void;
}) {
  const id = useId();
  return (
    <fieldset className="check-group">
      <legend>{legend}</legend>
      {options.map((o) => (
        <label key={o} htmlFor={`${id}-${o}`} className="check">
          <input
            id={`${id}-${o}`}
            type="checkbox"
            checked={value.includes(o)}
            onChange={(e) => onChange(e.target.checked ? [...value, o] : value.filter((v) => v !== o))}
          />
          {labels(o)}
        </label>
      ))}
    </fieldset>
  );
}
