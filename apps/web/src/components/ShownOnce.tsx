import type { ReactNode } from 'react';
import { CopyButton } from './CopyButton';

/** A secret Clipwire shows only when it is made (an API key, a webhook signing secret), with a copy button. */
export function ShownOnce({
  title,
  secret,
  copyLabel,
  testId,
}: {
  title: ReactNode;
  secret: string;
  copyLabel: string;
  testId: string;
}) {
  return (
    <div className="callout success" data-testid={testId} role="status">
      <strong>{title}</strong>
      <p className="mono break">{secret}</p>
      <CopyButton text={secret} label={copyLabel} />
    </div>
  );
}
