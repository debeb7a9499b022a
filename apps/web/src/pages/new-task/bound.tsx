import { Fragment, type ReactNode } from 'react';
import { MediaField, type MediaValue } from '../../components/MediaField';
import { CheckField, Choice, type ChoiceOption, SelectField, TextArea, TextField } from '../../components/fields';
import { type FormState, type KeysOf, useForm, type WordKey } from './state';

/*
 * The form's fields bound to its state: each reads its value from `field`, shows the error of its `name`
 * (its path in the input) and, for the fields a user types or picks a file in, clears that error on change.
 */

export interface MediaSpec {
  field: KeysOf<MediaValue>;
  name: string;
  legend: string;
  kind: 'image' | 'audio' | 'video';
  accept: string;
  hint: string;
}

export function Media({ spec: { field, ...spec } }: { spec: MediaSpec }) {
  const { s, set, errors, progress } = useForm();
  return (
    <MediaField
      {...spec}
      value={s[field]}
      error={errors[spec.name]}
      progress={progress[spec.name]}
      required
      onChange={(v) => set(field, v, spec.name)}
    />
  );
}

export interface TextSpec {
  field: KeysOf<string>;
  name: string;
  label: string;
  hint: string;
  required?: boolean;
  type?: 'text' | 'url';
  inputMode?: 'numeric';
}

export function Text({ spec: { field, ...spec } }: { spec: TextSpec }) {
  const { s, set, errors } = useForm();
  return <TextField {...spec} value={s[field]} error={errors[spec.name]} onChange={(v) => set(field, v, spec.name)} />;
}

export interface LongTextSpec {
  field: KeysOf<string>;
  name: string;
  label: string;
  hint: string;
  max: number;
  required?: boolean;
}

export function LongText({ spec: { field, ...spec } }: { spec: LongTextSpec }) {
  const { s, set, errors } = useForm();
  return <TextArea {...spec} value={s[field]} error={errors[spec.name]} onChange={(v) => set(field, v, spec.name)} />;
}

export function Select<K extends WordKey>({
  field,
  name,
  label,
  options,
}: {
  field: K;
  name: string;
  label: string;
  options: readonly (readonly [FormState[K], string])[];
}) {
  const { s, set } = useForm();
  return <SelectField name={name} label={label} value={s[field]} options={options} onChange={(v) => set(field, v)} />;
}

export function Check({
  field,
  name,
  label,
  hint,
  disabled,
}: {
  field: KeysOf<boolean>;
  name: string;
  label: string;
  hint?: string;
  disabled?: boolean;
}) {
  const { s, set, errors } = useForm();
  return (
    <CheckField
      name={name}
      label={label}
      hint={hint}
      error={errors[name]}
      disabled={disabled}
      checked={s[field] && !disabled}
      onChange={(v) => set(field, v, name)}
    />
  );
}

/**
 * Radio cards for one of the form's choices (the radios' name is the field's), followed by what
 * `then` shows for the chosen value.
 */
export function Pick<K extends WordKey>({
  field,
  legend,
  options,
  then,
}: {
  field: K;
  legend: string;
  options: readonly ChoiceOption<FormState[K]>[];
  then?: Partial<Record<FormState[K], ReactNode>>;
}) {
  const { s, set } = useForm();
  const value = s[field];
  return (
    <>
      <Choice legend={legend} name={field} value={value} options={options} onChange={(v) => set(field, v)} />
      <Fragment key={value}>{then?.[value]}</Fragment>
    </>
  );
}
