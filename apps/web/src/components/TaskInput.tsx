import { useState } from 'react';
import { formatBytes } from '../format';
import { PROVIDER_LABEL, providerLabel } from './ui';

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

/** A stored input (sent inline or uploaded), as the API lists it: a signed link until it is deleted. */
export interface StoredMedia {
  mime: string | null;
  sizeBytes: number | null;
  url: string | null;
  deletedAt: string | null;
}

/** A task's input: its media previewed (stored ones and URLs), its values in plain words, the raw JSON on demand. */
export function InputView({ input, media }: { input: unknown; media: readonly StoredMedia[] }) {
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
      {media.length > 0 || urls.length > 0 ? (
        <div className="outputs">
          {media.map((m, i) => {
            const kind = m.mime?.split('/')[0];
            const name = `Input ${kind ?? 'file'} ${i + 1}`;
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: the list is the task's inputs, in a fixed order
              <figure key={i} className="media" data-input-media={kind}>
                {m.url && kind === 'image' ? <img src={m.url} alt={name} loading="lazy" /> : null}
                {m.url && kind === 'audio' ? <audio controls preload="metadata" src={m.url} aria-label={name} /> : null}
                {m.url && kind === 'video' ? <video controls preload="metadata" src={m.url} aria-label={name} /> : null}
                <figcaption>
                  {m.mime} · {formatBytes(m.sizeBytes ?? 0)}
                  {m.deletedAt ? ' · deleted by the input retention policy' : null}
                  {m.url ? (
                    <>
                      {' · '}
                      <a href={m.url}>Open</a>
                    </>
                  ) : null}
                </figcaption>
              </figure>
            );
          })}
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

/** What each input field is called on the page (dotted paths of the input as the API shows it). */
const LABELS: Record<string, string> = {
  provider: 'Provider',
  route: 'Route asked',
  image: 'Image',
  video: 'Video',
  audio: 'Audio',
  prompt: 'Prompt',
  videoId: 'Kling video id',
  soundEffectPrompt: 'Sound effect prompt',
  bgmPrompt: 'Background music prompt',
  asmrMode: 'ASMR mode',
  'kling.mode': 'Mode',
  'kling.watermark': 'Watermarked copy too',
  'kling.audioId': 'Kling TTS audio id',
  'kie.resolution': 'Resolution',
  'kie.seed': 'Seed',
  'digitalHuman.noWatermark': 'No watermark',
  'digitalHuman.voice.audio': 'Voice',
  'digitalHuman.voice.clone.audio': 'Voice sample to clone',
  'digitalHuman.voice.clone.language': 'Voice language',
  'digitalHuman.voice.clone.text': 'Text to speak',
  'digitalHuman.voice.stock.voiceEngineId': 'Stock voice engine',
  'digitalHuman.voice.stock.audioId': 'Stock voice',
  'digitalHuman.voice.stock.language': 'Voice language',
  'digitalHuman.voice.stock.text': 'Text to speak',
  'sandbox.outcome': 'Sandbox outcome',
};

const VALUES: Record<string, Record<string, string>> = {
  provider: PROVIDER_LABEL,
  'kling.mode': { std: 'Standard', pro: 'Professional' },
  'digitalHuman.voice.audio': { true: 'the audio recording' },
};

/** A media input in words: where it came from and how big it was. */
function describeMedia(m: Record<string, unknown>): string | null {
  if (typeof m.url === 'string') return `from ${m.url}`;
  const file = m.file as { name?: unknown; size?: unknown; type?: unknown } | undefined;
  if (file && typeof file.size === 'number')
    return `uploaded ${typeof file.name === 'string' ? file.name : 'file'} · ${formatBytes(file.size)}${typeof file.type === 'string' ? ` · ${file.type}` : ''}`;
  const inline = m.base64 as { chars?: unknown } | undefined;
  if (inline && typeof inline.chars === 'number')
    return `sent inline (base64) · ${formatBytes(Math.floor((inline.chars * 3) / 4))}`;
  return null;
}

const humanize = (path: string) =>
  path
    .split('.')
    .at(-1)!
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .replace(/^./, (c) => c.toUpperCase());

/** The task's input in plain words: each option by its name on the form, media by where they came from. */
function InputFacts({ input }: { input: unknown }) {
  const rows: [string, string, string][] = [];
  const walk = (v: unknown, path: string) => {
    if (v === null || v === undefined) return;
    if (typeof v === 'object' && !Array.isArray(v)) {
      const media = describeMedia(v as Record<string, unknown>);
      if (media) {
        rows.push([path, LABELS[path] ?? humanize(path), media]);
        return;
      }
      for (const [k, val] of Object.entries(v as Record<string, unknown>)) walk(val, path ? `${path}.${k}` : k);
      return;
    }
    if (path === 'route' && Array.isArray(v)) {
      rows.push([path, LABELS[path]!, v.map((p) => providerLabel(String(p))).join(' → ')]);
      return;
    }
    const raw = typeof v === 'string' ? v : JSON.stringify(v);
    const value = VALUES[path]?.[raw] ?? (typeof v === 'boolean' ? (v ? 'Yes' : 'No') : raw);
    rows.push([path, LABELS[path] ?? humanize(path), value]);
  };
  walk(input, '');
  if (rows.length === 0) return <p className="muted">No input recorded.</p>;
  return (
    <dl className="facts input-facts">
      {rows.map(([path, k, v]) => (
        <div key={path} className="fact-row" data-path={path}>
          <dt>{k}</dt>
          <dd className="break">{v}</dd>
        </div>
      ))}
    </dl>
  );
}
