import { useState } from 'react';
import { formatBytes } from '../format';

interface UrlRef {
  path: string;
  url: string;
}

function findUrls(value: unknown, path: string, out: UrlRef[]): UrlRef[] {
  if (typeof value === 'string' && /^https?:\/\//i.test(value)) out.push({ path, url: value });
  else if (Array.isArray(value)) value.forEach((v, i) => findUrls(v, `${path}[${i}]`, out));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) findUrls(v, path ? `${path}.${k}` : k, out);
  return out;
}

function mediaKind(ref: UrlRef): 'image' | 'audio' | 'video' | null {
  const ext = /\.([a-z0-9]+)(?:[?#]|$)/i.exec(new URL(ref.url).pathname)?.[1]?.toLowerCase();
  if (ext && ['png', 'jpg', 'jpeg', 'webp', 'gif'].includes(ext)) return 'image';
  if (ext && ['mp3', 'wav', 'm4a', 'aac', 'ogg'].includes(ext)) return 'audio';
  if (ext && ['mp4', 'mov', 'webm'].includes(ext)) return 'video';
  if (/webhook/i.test(ref.path)) return null;
  if (/image/i.test(ref.path)) return 'image';
  if (/audio/i.test(ref.path)) return 'audio';
  if (/video/i.test(ref.path)) return 'video';
  return null;
}

/** A task's normalized input: its media previewed, its values listed, the raw JSON on demand. */
export function InputView({ input }: { input: unknown }) {
  const [raw, setRaw] = useState(false);
  const urls = findUrls(input, '', []).flatMap((ref) => {
    try {
      const kind = mediaKind(ref);
      return kind ? [{ ...ref, kind }] : [];
    } catch {
      return [];
    }
  });
  return (
    <>
      {urls.length > 0 ? (
        <div className="outputs">
          {urls.map((u) => (
            <figure key={u.path} className="media">
              {u.kind === 'image' ? <img src={u.url} alt={`Input ${u.path}`} loading="lazy" /> : null}
              {u.kind === 'audio' ? <audio controls preload="none" src={u.url} aria-label={`Input ${u.path}`} /> : null}
              {u.kind === 'video' ? <video controls preload="none" src={u.url} aria-label={`Input ${u.path}`} /> : null}
              <figcaption className="mono break">{u.path}</figcaption>
            </figure>
          ))}
        </div>
      ) : null}
      <InputFacts input={input} />
      <button type="button" className="button subtle" aria-expanded={raw} onClick={() => setRaw((r) => !r)}>
        {raw ? 'Hide JSON' : 'Show JSON'}
      </button>
      {raw ? <pre className="json">{JSON.stringify(input, null, 2)}</pre> : null}
    </>
  );
}

/** The normalized input as a readable list: nested keys become dotted names. */
function InputFacts({ input }: { input: unknown }) {
  const rows: [string, string][] = [];
  const walk = (v: unknown, path: string) => {
    if (v === null || v === undefined) return;
    if (typeof v === 'object' && !Array.isArray(v)) {
      const entries = Object.entries(v as Record<string, unknown>);
      const file = v as { name?: unknown; size?: unknown; type?: unknown };
      if (path.endsWith('file') && typeof file.size === 'number') {
        rows.push([
          path,
          `uploaded ${typeof file.name === 'string' ? file.name : 'file'} · ${formatBytes(file.size)}${typeof file.type === 'string' ? ` · ${file.type}` : ''}`,
        ]);
        return;
      }
      for (const [k, val] of entries) walk(val, path ? `${path}.${k}` : k);
      return;
    }
    rows.push([path, typeof v === 'string' ? v : JSON.stringify(v)]);
  };
  walk(input, '');
  if (rows.length === 0) return <p className="muted">No input recorded.</p>;
  return (
    <dl className="facts input-facts">
      {rows.map(([k, v]) => (
        <div key={k} className="fact-row">
          <dt className="mono">{k}</dt>
          <dd className="break">{v}</dd>
        </div>
      ))}
    </dl>
  );
}
