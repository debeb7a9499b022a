import { useEffect, useId, useState } from 'react';
import { formatBytes } from '../format';

export interface MediaValue {
  source: 'file' | 'url';
  file: File | null;
  url: string;
}

const SOURCES = [
  ['file', 'Upload a file'],
  ['url', 'Use a URL'],
] as const;

export const emptyMedia = (): MediaValue => ({ source: 'file', file: null, url: '' });

/** The GraphQL MediaInput for a field: exactly one of file or url, or nothing when empty. */
export function toMediaInput(v: MediaValue): { file: File } | { url: string } | undefined {
  if (v.source === 'file') return v.file ? { file: v.file } : undefined;
  const url = v.url.trim();
  return url ? { url } : undefined;
}

export function fieldId(key: string): string {
  return `f-${key.replace(/\./g, '-')}`;
}

/**
 * One media input: upload a file (with a preview and the upload's progress) or give a URL.
 * `name` is the field's path in the input (e.g. `image`, `digitalHuman.cloneVoice.audio`).
 */
export function MediaField({
  name,
  legend,
  kind,
  accept,
  hint,
  value,
  error,
  progress,
  required,
  onChange,
}: {
  name: string;
  legend: string;
  kind: 'image' | 'audio' | 'video';
  accept: string;
  hint: string;
  value: MediaValue;
  error?: string | undefined;
  progress?: number | null | undefined;
  required?: boolean;
  onChange(v: MediaValue): void;
}) {
  const id = fieldId(name);
  const uid = useId();
  const hintId = `${id}-hint`;
  const errorId = `${id}-error`;
  const describedBy = [hintId, error ? errorId : null].filter(Boolean).join(' ');
  // The file input and the URL input are the same control to labels, hints and errors.
  const control = { id, name, 'aria-invalid': error ? (true as const) : undefined, 'aria-describedby': describedBy };
  const preview = useObjectUrl(value.source === 'file' ? value.file : null);

  return (
    <fieldset className={`field media-field${error ? ' has-error' : ''}`} aria-describedby={describedBy}>
      <legend>
        {legend}
        {required ? <span className="req"> (required)</span> : null}
      </legend>
      <div className="segmented" role="radiogroup" aria-label={`${legend}: source`}>
        {SOURCES.map(([source, text]) => (
          <label key={source} className="seg">
            <input
              type="radio"
              name={`${uid}-src`}
              checked={value.source === source}
              onChange={() => onChange({ ...value, source })}
            />
            {text}
          </label>
        ))}
      </div>
      {value.source === 'file' ? (
        <div className="file-row">
          <label htmlFor={id} className="sr-only">{`${legend} file`}</label>
          <input
            {...control}
            type="file"
            accept={accept}
            onChange={(e) => onChange({ ...value, file: e.target.files?.[0] ?? null })}
          />
          {value.file ? (
            <div className="preview">
              {kind === 'image' && preview ? (
                <img src={preview} alt={`Preview of the chosen ${legend.toLowerCase()}`} />
              ) : null}
              {kind === 'audio' && preview ? (
                <audio controls src={preview} aria-label={`Preview of the chosen ${legend.toLowerCase()}`} />
              ) : null}
              {kind === 'video' && preview ? (
                <video controls muted src={preview} aria-label={`Preview of the chosen ${legend.toLowerCase()}`} />
              ) : null}
              <span className="small muted">
                {value.file.name} · {formatBytes(value.file.size)}
              </span>
              <button type="button" className="button subtle small" onClick={() => onChange({ ...value, file: null })}>
                Remove<span className="sr-only"> the chosen {legend.toLowerCase()}</span>
              </button>
            </div>
          ) : null}
          {progress != null ? (
            <div className="upload-progress">
              <progress
                id={`${id}-progress`}
                max={100}
                value={Math.round(progress * 100)}
                aria-label={`Upload of ${legend.toLowerCase()}`}
              />
              <span className="small">{progress >= 1 ? 'Uploaded' : `${Math.round(progress * 100)}%`}</span>
            </div>
          ) : null}
        </div>
      ) : (
        <div>
          <label htmlFor={id} className="sr-only">{`${legend} URL`}</label>
          <input
            {...control}
            type="url"
            inputMode="url"
            placeholder="https://…"
            value={value.url}
            onChange={(e) => onChange({ ...value, url: e.target.value })}
          />
        </div>
      )}
      <p id={hintId} className="hint">
        {hint}
      </p>
      {error ? (
        <p id={errorId} className="field-error" data-field={name}>
          {error}
        </p>
      ) : null}
    </fieldset>
  );
}

function useObjectUrl(file: File | null): string | null {
  const [url, setUrl] = useState<string | null>(null);
  useEffect(() => {
    if (!file) {
      setUrl(null);
      return;
    }
    const u = URL.createObjectURL(file);
    setUrl(u);
    return () => URL.revokeObjectURL(u);
  }, [file]);
  return url;
}
