import type { ReactNode } from 'react';
import type { TaskDetail } from '../documents';
import { isFinal } from './ui';

/** The videos and audios a task produced, each playable and with links to the files. */
export function Outputs({ task }: { task: TaskDetail }) {
  const videos = task.videos ?? [];
  const audios = task.audios ?? [];
  if (videos.length === 0 && audios.length === 0) {
    return (
      <p className="muted">
        {isFinal(task.status) ? 'This task produced no media.' : 'The outputs appear here when the task succeeds.'}
      </p>
    );
  }
  return (
    <div className="outputs">
      {videos.map((v, i) => (
        <OutputFigure
          key={v.id ?? i}
          title={`Video ${i + 1}`}
          seconds={v.durationSeconds}
          links={{ Open: v.url, Watermarked: v.watermarkUrl }}
        >
          {v.url ? <video controls preload="metadata" src={v.url} aria-label={`Output video ${i + 1}`} /> : null}
        </OutputFigure>
      ))}
      {audios.map((a, i) => (
        <OutputFigure
          key={a.id ?? i}
          title={`Audio ${i + 1}`}
          seconds={a.mp3DurationSeconds}
          links={{ mp3: a.mp3Url, wav: a.wavUrl }}
        >
          {a.mp3Url ? (
            <div className="player">
              <span className="player-label">MP3</span>
              <audio controls preload="metadata" src={a.mp3Url} aria-label={`Output audio ${i + 1} (mp3)`} />
            </div>
          ) : null}
          {a.wavUrl ? (
            <div className="player">
              <span className="player-label">WAV</span>
              <audio controls preload="metadata" src={a.wavUrl} aria-label={`Output audio ${i + 1} (wav)`} />
            </div>
          ) : null}
        </OutputFigure>
      ))}
    </div>
  );
}

/** One output: its players, then a caption with its name, its duration and links to its files. */
function OutputFigure({
  title,
  seconds,
  links,
  children,
}: {
  title: string;
  seconds: number | null | undefined;
  /** Link text → URL, in order; absent URLs are left out. */
  links: Record<string, string | null | undefined>;
  children: ReactNode;
}) {
  return (
    <figure className="media">
      {children}
      <figcaption>
        {title}
        {seconds != null ? ` · ${seconds.toFixed(1)} s` : ''}
        {Object.entries(links).map(([text, href]) => (
          <ExternalLink key={text} href={href}>
            {text}
          </ExternalLink>
        ))}
      </figcaption>
    </figure>
  );
}

/** " · " and a link opening in a new tab; nothing when there is no URL. */
function ExternalLink({ href, children }: { href: string | null | undefined; children: ReactNode }) {
  if (!href) return null;
  return (
    <>
      {' · '}
      <a href={href} target="_blank" rel="noreferrer">
        {children}
      </a>
    </>
  );
}
