import { useState } from 'react';

/** Writes `text` to the clipboard: the Clipboard API, or on an insecure origin the older copy command. */
async function copyText(text: string): Promise<void> {
  if (navigator.clipboard) return navigator.clipboard.writeText(text);
  const area = document.createElement('textarea');
  area.value = text;
  document.body.append(area);
  area.select();
  const done = document.execCommand('copy');
  area.remove();
  if (!done) throw new Error('copy refused');
}

/**
 * Copies `text` to the clipboard and says so (or says to copy it by hand when the browser refuses).
 * `name`: the button's accessible name when its visible `label` alone would be ambiguous.
 */
export function CopyButton({ text, label = 'Copy', name }: { text: string; label?: string; name?: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  return (
    <>
      <button
        type="button"
        className="button small"
        aria-label={name}
        onClick={() => {
          copyText(text).then(
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
