import { useId, type ReactNode } from 'react';
import { fieldId } from './MediaField';

/** A titled card of the form, labelled by its heading. */
export function Section({ title, children }: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <section className="card form-section" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

/** One option of a Choice: its value, its title and an optional line under it. */
export type ChoiceOption<T extends string> = readonly [value: T, title: string, sub: string];

/** Radio cards in a fieldset. */
export function Choice<T extends string>({
  legend,
  name,
  value,
  options,
  onChange,
}: {
  legend: string;
  name: string;
  value: T;
  options: readonly ChoiceOption<T>[];
  onChange(v: T): void;
}) {
  const id = useId();
  return (
    <fieldset className="field choice">
      <legend>{legend}</legend>
      <div className="choices">
        {options.map(([v, text, sub]) => (
          <label key={v} className="choice-card" htmlFor={`${id}-${v}`}>
            <input
              id={`${id}-${v}`}
              type="radio"
              name={`${name}-${id}`}
              value={v}
              checked={value === v}
              onChange={() => onChange(v)}
            />
            <span>
              <span className="choice-title">{text}</span>
              {sub ? <span className="choice-sub">{sub}</span> : null}
            </span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** What every labelled field takes; `name` is the field's path in the input and gives its DOM id. */
export interface FieldProps {
  name: string;
  label: string;
  hint?: string | undefined;
  error?: string | undefined;
  required?: boolean | undefined;
}

/** The label, hint and error around one control. */
function FieldShell({ name, label, hint, error, required, children }: FieldProps & { children: ReactNode }) {
  const id = fieldId(name);
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label htmlFor={id}>
        {label}
        {required ? <span className="req"> (required)</span> : null}
      </label>
      {children}
      {hint ? (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field-error" data-field={name}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

/** The attributes a text control shares: id, name, required and invalid state, and what describes it. */
function controlProps({ name, hint, error, required }: FieldProps, invalid: boolean) {
  const id = fieldId(name);
  return {
    id,
    name,
    'aria-required': required || undefined,
    'aria-invalid': invalid ? (true as const) : undefined,
    'aria-describedby':
      [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined,
  };
}

export function TextField({
  value,
  type = 'text',
  inputMode,
  onChange,
  ...field
}: FieldProps & {
  value: string;
  type?: 'text' | 'url' | undefined;
  inputMode?: 'numeric' | 'text' | undefined;
  onChange(v: string): void;
}) {
  return (
    <FieldShell {...field}>
      <input
        {...controlProps(field, Boolean(field.error))}
        type={type}
        inputMode={inputMode}
        value={value}
        spellCheck={false}
        onChange={(e) => onChange(e.target.value)}
      />
    </FieldShell>
  );
}

/** A textarea with a character counter against `max`. */
export function TextArea({
  value,
  max,
  onChange,
  ...field
}: FieldProps & { value: string; max: number; onChange(v: string): void }) {
  const over = value.length > max;
  return (
    <FieldShell {...field}>
      <textarea
        {...controlProps(field, Boolean(field.error) || over)}
        rows={3}
        value={value}
        onChange={(e) => onChange(e.target.value)}
      />
      <span className={`counter small${over ? ' over' : ' muted'}`} aria-live={over ? 'polite' : 'off'}>
        {value.length} / {max}
      </span>
    </FieldShell>
  );
}

export function SelectField<T extends string>({
  name,
  label,
  value,
  options,
  onChange,
}: {
  name: string;
  label: string;
  value: T;
  options: readonly (readonly [value: T, text: string])[];
  onChange(v: T): void;
}) {
  return (
    <FieldShell name={name} label={label}>
      <select id={fieldId(name)} name={name} value={value} onChange={(e) => onChange(e.target.value as T)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </FieldShell>
  );
}

export function CheckField({
  name,
  label,
  checked,
  onChange,
  hint,
  error,
  disabled,
}: {
  name: string;
  label: string;
  checked: boolean;
  onChange(v: boolean): void;
  hint?: string | undefined;
  error?: string | undefined;
  disabled?: boolean | undefined;
}) {
  const id = fieldId(name);
  return (
    <div className={`field check-field${error ? ' has-error' : ''}`}>
      <label className="check" htmlFor={id}>
        <input
          id={id}
          name={name}
          type="checkbox"
          checked={checked}
          disabled={disabled}
          aria-invalid={error ? true : undefined}
          aria-describedby={
            [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined
          }
          onChange={(e) => onChange(e.target.checked)}
        />
        {label}
      </label>
      {hint ? (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field-error" data-field={name}>
          {error}
        </p>
      ) : null}
    </div>
  );
}
