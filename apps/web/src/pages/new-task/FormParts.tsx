import type { ReactNode, Ref } from 'react';
import { KIND_LABEL, PROVIDER_LABEL } from '../../components/ui';
import { Choice, Section } from '../../components/fields';
import { fieldId } from '../../components/MediaField';
import { href } from '../../router';
import { PROVIDERS, TASK_KINDS, type Provider, type TaskKind } from '@clipwire/schema';
import { Text } from './bound';
import { FIELD_NAMES } from './issues';
import { KIND_SUB, PROVIDER_SUB, TEXT } from './specs';
import type { Errors } from './state';

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
