import { useEffect, type ReactNode, type Ref } from 'react';
import { useQuery } from 'urql';
import { ProvidersQuery } from '../../documents';
import { KIND_LABEL, PROVIDER_LABEL } from '../../components/ui';
import { Choice, Section } from '../../components/fields';
import { fieldId } from '../../components/MediaField';
import { href } from '../../router';
import { PROVIDERS, TASK_KINDS, type Provider, type TaskKind } from '@clipwire/schema';
import { Select, Text } from './bound';
import { FIELD_NAMES } from './issues';
import { KIND_SUB, PROVIDER_SUB, SANDBOX_OUTCOME_OPTIONS, TEXT } from './specs';
import { type Errors, useForm } from './state';

const KIND_OPTIONS = TASK_KINDS.map((k) => [k, KIND_LABEL[k], KIND_SUB[k]] as const);
const PROVIDER_OPTIONS = PROVIDERS.map((p) => [p, PROVIDER_LABEL[p], PROVIDER_SUB[p]] as const);

/** The list of what is wrong, each item a link to its field; focused when it changes. */
export function ErrorSummary({
  errors,
  formError,
  summaryRef,
}: {
  errors: Errors;
  formError: ReactNode | null;
  summaryRef: Ref<HTMLDivElement>;
}) {
  const errorEntries = Object.entries(errors);
  return (
    <div ref={summaryRef} tabIndex={-1} className="summary-anchor" aria-live="assertive">
      {errorEntries.length > 0 || formError ? (
        <div className="callout error" role="alert">
          <strong>The task was not created.</strong>
          {formError ? <p>{formError}</p> : null}
          {errorEntries.length > 0 ? (
            <ul>
              {errorEntries.map(([k, m]) => (
                <li key={k}>
                  <a
                    href={`#${fieldId(k)}`}
                    onClick={(ev) => {
                      ev.preventDefault();
                      document.getElementById(fieldId(k))?.focus();
                    }}
                  >
                    {FIELD_NAMES[k] ?? k}: {m}
                  </a>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

/** The capability and, for avatar videos, the provider. */
export function WhatToMakeSection({
  capability,
  provider,
  onCapability,
  onProvider,
}: {
  capability: TaskKind;
  provider: Provider;
  onCapability(v: TaskKind): void;
  onProvider(v: Provider): void;
}) {
  return (
    <Section title="What to make">
      <Choice legend="Capability" name="capability" value={capability} options={KIND_OPTIONS} onChange={onCapability} />
      {capability === 'AVATAR_VIDEO' ? (
        <Choice legend="Provider" name="provider" value={provider} options={PROVIDER_OPTIONS} onChange={onProvider} />
      ) : (
        <p className="hint">Provider: Kling video-to-audio.</p>
      )}
    </Section>
  );
}

export function TrackingSection() {
  return (
    <Section title="Tracking and delivery">
      <Text spec={TEXT.externalTaskId} />
      <Text spec={TEXT.webhookUrl} />
    </Section>
  );
}

/**
 * The sandbox outcome on demand, offered only while the chosen provider is in sandbox mode (a LIVE
 * provider refuses it): a failure, a slow task or a lost callback, to see them without credentials.
 */
export function SandboxSection() {
  const { s, set, errors } = useForm();
  const [result] = useQuery({ query: ProvidersQuery });
  const provider = s.capability === 'VIDEO_SOUND' ? 'KLING' : s.provider;
  const sandboxed = result.data?.providers?.some((p) => p.provider === provider && p.mode === 'SANDBOX') ?? false;
  useEffect(() => {
    if (!sandboxed && s.sandboxOutcome !== 'NONE') set('sandboxOutcome', 'NONE');
  }, [sandboxed, s.sandboxOutcome, set]);
  if (!sandboxed) return null;
  const error = errors['sandbox.outcome'] ?? errors['sandbox'];
  return (
    <Section title="Sandbox">
      <Select field="sandboxOutcome" name="sandbox.outcome" label="Outcome" options={SANDBOX_OUTCOME_OPTIONS} />
      <p className={error ? 'field-error' : 'hint'}>
        {error ?? 'The provider runs in the sandbox: ask for a failure, a slow task or a lost callback.'}
      </p>
    </Section>
  );
}

export function FormActions({ busy, uploading }: { busy: boolean; uploading: boolean }) {
  return (
    <div className="form-actions">
      <button
        type="submit"
        className="button primary"
        disabled={busy}
        aria-describedby={busy ? 'submit-status' : undefined}
      >
        {busy ? 'Creating…' : 'Create task'}
      </button>
      <a className="button subtle" href={href.tasks()}>
        Cancel
      </a>
      <span id="submit-status" role="status" className="small muted">
        {busy ? (uploading ? 'Uploading…' : 'Sending…') : ''}
      </span>
    </div>
  );
}
