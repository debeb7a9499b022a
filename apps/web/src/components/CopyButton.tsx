import { useState } from 'react';

/** Copies `text` to the clipboard and says so (or says to copy it by hand when the browser refuses). */
export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <>
      <button
        type="button"
        className="button small"
        onClick={() => {
          navigator.clipboard.writeText(text).then(
            () => setState('copied'),
            () => setState('failed'),
          );
        }}
      >
        {label}
      </button>
      <span role="status" className="small muted">
        {state === 'copied'
          ? ' Copied.'
          : state === 'failed'
            ? ' Copying was refused: select the text and copy it.'
            : ''}
      </span>
    </>
  );
}
