import { useId } from 'react';
import { PROVIDERS, type Provider, TASK_KINDS, TASK_STATUSES, type TaskKind, type TaskStatus } from '@clipwire/schema';
import type { TasksQuery } from '../documents';
import type { VariablesOf } from '../graphql';
import { KIND_LABEL, label, PROVIDER_LABEL } from './ui';

type Filter = NonNullable<VariablesOf<typeof TasksQuery>['filter']>;

/** The task list's filters: any of these statuses, kinds and providers (an empty list: all). */
export interface FilterState {
  statuses: TaskStatus[];
  kinds: TaskKind[];
  providers: Provider[];
}

export const NO_FILTERS: FilterState = { statuses: [], kinds: [], providers: [] };

export function toFilter(f: FilterState): Filter | null {
  const filter: Filter = {};
  if (f.statuses.length) filter.statuses = f.statuses;
  if (f.kinds.length) filter.kinds = f.kinds;
  if (f.providers.length) filter.providers = f.providers;
  return Object.keys(filter).length ? filter : null;
}

export function activeFilters(f: FilterState): number {
  return f.statuses.length + f.kinds.length + f.providers.length;
}

/** One checkbox group a filter, in this order; the values are @clipwire/schema's lists. */
const GROUPS: { [K in keyof FilterState]: { legend: string; options: readonly string[]; label(v: string): string } } = {
  statuses: { legend: 'Status', options: TASK_STATUSES, label },
  kinds: { legend: 'Capability', options: TASK_KINDS, label: (k) => KIND_LABEL[k as TaskKind] ?? k },
  providers: { legend: 'Provider', options: PROVIDERS, label: (p) => PROVIDER_LABEL[p as Provider] ?? p },
};

export function TaskFilters({ value, onChange }: { value: FilterState; onChange(f: FilterState): void }) {
  const active = activeFilters(value);
  return (
    <details className="filters" open={active > 0 ? true : undefined}>
      <summary>Filters{active ? <span className="count"> ({active} on)</span> : null}</summary>
      <div className="filter-groups">
        {(Object.keys(GROUPS) as (keyof FilterState)[]).map((key) => (
          <CheckGroup
            key={key}
            legend={GROUPS[key].legend}
            options={GROUPS[key].options}
            labels={GROUPS[key].label}
            value={value[key]}
            onChange={(next) => onChange({ ...value, [key]: next })}
          />
        ))}
        {active ? (
          <button type="button" className="button subtle" onClick={() => onChange(NO_FILTERS)}>
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
