import { useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import {
  createAvatarVideoInputSchema,
  createVideoSoundInputSchema,
  DIGITAL_HUMAN_TEXT_MAX,
  KIE_PROMPT_MAX,
  KIE_SEED_MAX,
  KIE_SEED_MIN,
  KLING_AVATAR_PROMPT_MAX,
  KLING_SOUND_PROMPT_MAX,
} from '@clipwire/schema';
import { postOperation, HttpError } from '../api';
import { CreateAvatarVideoMutation, CreateVideoSoundMutation, type CreateResult } from '../documents';
import type { VariablesOf } from '../graphql';
import { setFlash } from '../flash';
import { href, navigate } from '../router';
import { useSession } from '../session';
import { emptyMedia, fieldId, MediaField, toMediaInput, type MediaValue } from '../components/MediaField';
import { PageTitle, shortId } from '../components/ui';

type AvatarInput = VariablesOf<typeof CreateAvatarVideoMutation>['input'];
type SoundInput = VariablesOf<typeof CreateVideoSoundMutation>['input'];
type Capability = 'AVATAR_VIDEO' | 'VIDEO_SOUND';
type AvatarProvider = 'KLING' | 'KIE' | 'DIGITAL_HUMAN';

interface FormState {
  capability: Capability;
  provider: AvatarProvider;
  image: MediaValue;
  video: MediaValue;
  audio: MediaValue;
  prompt: string;
  externalTaskId: string;
  webhookUrl: string;
  // KLING avatar
  klingVoice: 'audio' | 'audioId';
  klingAudioId: string;
  klingMode: 'STD' | 'PRO';
  klingWatermark: boolean;
  // KIE
  kieResolution: 'RES_480P' | 'RES_720P';
  kieSeed: string;
  // DIGITAL_HUMAN
  dhAvatar: 'image' | 'video';
  dhVoice: 'audio' | 'clone' | 'stock';
  dhNoWatermark: boolean;
  cloneAudio: MediaValue;
  cloneLanguage: string;
  cloneText: string;
  stockVoiceEngineId: string;
  stockAudioId: string;
  stockLanguage: string;
  stockText: string;
  // VIDEO_SOUND
  soundSource: 'video' | 'videoId';
  videoId: string;
  soundEffectPrompt: string;
  bgmPrompt: string;
  asmrMode: boolean;
}

const initialState = (): FormState => ({
  capability: 'AVATAR_VIDEO',
  provider: 'KLING',
  image: emptyMedia(),
  video: emptyMedia(),
  audio: emptyMedia(),
  prompt: '',
  externalTaskId: '',
  webhookUrl: '',
  klingVoice: 'audio',
  klingAudioId: '',
  klingMode: 'STD',
  klingWatermark: false,
  kieResolution: 'RES_480P',
  kieSeed: '',
  dhAvatar: 'image',
  dhVoice: 'audio',
  dhNoWatermark: false,
  cloneAudio: emptyMedia(),
  cloneLanguage: '',
  cloneText: '',
  stockVoiceEngineId: '',
  stockAudioId: '',
  stockLanguage: '',
  stockText: '',
  soundSource: 'video',
  videoId: '',
  soundEffectPrompt: '',
  bgmPrompt: '',
  asmrMode: false,
});

const opt = (s: string): string | undefined => (s.trim() ? s.trim() : undefined);

/** Drops undefined members so the request and the zod check see the same object. */
function compact<T extends Record<string, unknown>>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

function buildAvatarInput(s: FormState, localErrors: Errors): AvatarInput {
  const common = { provider: s.provider, externalTaskId: opt(s.externalTaskId), webhookUrl: opt(s.webhookUrl) };
  switch (s.provider) {
    case 'KLING':
      return compact({
        ...common,
        image: toMediaInput(s.image),
        audio: s.klingVoice === 'audio' ? toMediaInput(s.audio) : undefined,
        prompt: opt(s.prompt),
        kling: compact({
          mode: s.klingMode,
          watermark: s.klingWatermark,
          audioId: s.klingVoice === 'audioId' ? opt(s.klingAudioId) : undefined,
        }),
      });
    case 'KIE': {
      let seed: number | undefined;
      if (s.kieSeed.trim()) {
        if (/^-?\d+$/.test(s.kieSeed.trim())) seed = Number(s.kieSeed.trim());
        else localErrors['kie.seed'] = 'must be a whole number';
      }
      return compact({
        ...common,
        image: toMediaInput(s.image),
        audio: toMediaInput(s.audio),
        prompt: s.prompt.trim() ? s.prompt : undefined,
        kie: compact({ resolution: s.kieResolution, seed }),
      });
    }
    case 'DIGITAL_HUMAN':
      return compact({
        ...common,
        image: s.dhAvatar === 'image' ? toMediaInput(s.image) : undefined,
        video: s.dhAvatar === 'video' ? toMediaInput(s.video) : undefined,
        audio: s.dhVoice === 'audio' ? toMediaInput(s.audio) : undefined,
        digitalHuman: compact({
          noWatermark: s.dhNoWatermark,
          cloneVoice:
            s.dhVoice === 'clone'
              ? // Incomplete on purpose when fields are empty: the shared schema names each missing one.
                (compact({
                  audio: toMediaInput(s.cloneAudio),
                  language: s.cloneLanguage.trim(),
                  text: s.cloneText,
                }) as NonNullable<NonNullable<AvatarInput['digitalHuman']>['cloneVoice']>)
              : undefined,
          stockVoice:
            s.dhVoice === 'stock'
              ? {
                  voiceEngineId: s.stockVoiceEngineId.trim(),
                  audioId: s.stockAudioId.trim(),
                  language: s.stockLanguage.trim(),
                  text: s.stockText,
                }
              : undefined,
        }),
      });
  }
}

function buildSoundInput(s: FormState): SoundInput {
  return compact({
    provider: 'KLING' as const,
    video: s.soundSource === 'video' ? toMediaInput(s.video) : undefined,
    videoId: s.soundSource === 'videoId' ? opt(s.videoId) : undefined,
    soundEffectPrompt: opt(s.soundEffectPrompt),
    bgmPrompt: opt(s.bgmPrompt),
    asmrMode: s.asmrMode,
    externalTaskId: opt(s.externalTaskId),
    webhookUrl: opt(s.webhookUrl),
  });
}

/** The GraphQL enums carry the server's internal values (std, 480p): the zod schemas speak those. */
function avatarForSchema(input: AvatarInput): unknown {
  return {
    ...input,
    ...(input.kling
      ? { kling: { ...input.kling, ...(input.kling.mode ? { mode: input.kling.mode === 'PRO' ? 'pro' : 'std' } : {}) } }
      : {}),
    ...(input.kie
      ? {
          kie: {
            ...input.kie,
            ...(input.kie.resolution ? { resolution: input.kie.resolution === 'RES_720P' ? '720p' : '480p' } : {}),
          },
        }
      : {}),
  };
}

type Errors = Record<string, string>;

const FIELDS = [
  'provider',
  'image',
  'video',
  'audio',
  'prompt',
  'externalTaskId',
  'webhookUrl',
  'kling.audioId',
  'kling.mode',
  'kling.watermark',
  'kie.resolution',
  'kie.seed',
  'digitalHuman.noWatermark',
  'digitalHuman.cloneVoice.audio',
  'digitalHuman.cloneVoice.language',
  'digitalHuman.cloneVoice.text',
  'digitalHuman.stockVoice.voiceEngineId',
  'digitalHuman.stockVoice.audioId',
  'digitalHuman.stockVoice.language',
  'digitalHuman.stockVoice.text',
  'videoId',
  'soundEffectPrompt',
  'bgmPrompt',
  'asmrMode',
];

/** The form field an issue belongs to: the longest known prefix of its path (`input.image.url` → `image`). */
function fieldFor(path: readonly (string | number | symbol)[], s: FormState): string {
  const parts = path.map(String);
  if (parts[0] === 'input') parts.shift();
  let key = parts.join('.');
  for (let n = parts.length; n > 0; n--) {
    const candidate = parts.slice(0, n).join('.');
    if (FIELDS.includes(candidate)) {
      key = candidate;
      break;
    }
  }
  // "Give one of …" issues sit on the default alternative; show them on the one the user picked.
  if (s.capability === 'AVATAR_VIDEO') {
    if (key === 'audio' && s.provider === 'KLING' && s.klingVoice === 'audioId') return 'kling.audioId';
    if (key === 'image' && s.provider === 'DIGITAL_HUMAN' && s.dhAvatar === 'video') return 'video';
    if (key === 'audio' && s.provider === 'DIGITAL_HUMAN' && s.dhVoice === 'clone')
      return 'digitalHuman.cloneVoice.audio';
    if (key === 'audio' && s.provider === 'DIGITAL_HUMAN' && s.dhVoice === 'stock')
      return 'digitalHuman.stockVoice.text';
  } else if (key === 'video' && s.soundSource === 'videoId') return 'videoId';
  return key || 'form';
}

function addIssue(errors: Errors, key: string, message: string): void {
  errors[key] = errors[key] ? `${errors[key]}; ${message}` : message;
}

const FIELD_NAMES: Record<string, string> = {
  image: 'Portrait image',
  video: 'Video',
  audio: 'Speech audio',
  prompt: 'Prompt',
  externalTaskId: 'External task id',
  webhookUrl: 'Webhook URL',
  'kling.audioId': 'Kling TTS audio id',
  'kie.seed': 'Seed',
  'digitalHuman.cloneVoice.audio': 'Voice sample',
  'digitalHuman.cloneVoice.language': 'Language',
  'digitalHuman.cloneVoice.text': 'Text to speak',
  'digitalHuman.stockVoice.voiceEngineId': 'Voice engine id',
  'digitalHuman.stockVoice.audioId': 'Voice id',
  'digitalHuman.stockVoice.language': 'Language',
  'digitalHuman.stockVoice.text': 'Text to speak',
  videoId: 'Kling video id',
  soundEffectPrompt: 'Sound effect prompt',
  bgmPrompt: 'Background music prompt',
};

export function NewTaskPage() {
  const { apiKey, signOut } = useSession();
  const [s, setS] = useState<FormState>(initialState);
  const [errors, setErrors] = useState<Errors>({});
  const [formError, setFormError] = useState<ReactNode | null>(null);
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<Record<string, number>>({});
  const summaryRef = useRef<HTMLDivElement>(null);

  const set = <K extends keyof FormState>(key: K, value: FormState[K], clear?: string) => {
    setS((prev) => ({ ...prev, [key]: value }));
    if (clear && errors[clear]) setErrors(({ [clear]: _gone, ...rest }) => rest);
  };

  function showErrors(next: Errors, message?: string) {
    setErrors(next);
    setFormError(message ?? null);
    requestAnimationFrame(() => summaryRef.current?.focus());
  }

  async function submit(e: FormEvent) {
    e.preventDefault();
    if (busy) return;
    const local: Errors = {};
    const avatar = s.capability === 'AVATAR_VIDEO';
    const input = avatar ? buildAvatarInput(s, local) : buildSoundInput(s);
    // The same schemas the API checks with.
    const parsed = avatar
      ? createAvatarVideoInputSchema.safeParse(avatarForSchema(input as AvatarInput))
      : createVideoSoundInputSchema.safeParse(input);
    if (!parsed.success)
      for (const issue of parsed.error.issues) addIssue(local, fieldFor(issue.path, s), issue.message);
    if (Object.keys(local).length > 0) return showErrors(local);

    setBusy(true);
    setErrors({});
    setFormError(null);
    setProgress({});
    let paths: string[] = [];
    let sizes: number[] = [];
    const options = {
      apiKey,
      onFiles: (p: string[], z: number[]) => {
        paths = p.map((x) => x.replace(/^variables\.input\./, '').replace(/\.file$/, ''));
        sizes = z;
        setProgress(Object.fromEntries(paths.map((k) => [k, 0])));
      },
      // One multipart body carries every file, in order, after the small operations and map parts.
      onProgress: (loaded: number, total: number) => {
        if (!total || paths.length === 0) return;
        const sum = sizes.reduce((a, b) => a + b, 0);
        let start = Math.max(0, total - sum);
        const next: Record<string, number> = {};
        paths.forEach((k, i) => {
          const size = sizes[i] ?? 0;
          next[k] = size ? Math.max(0, Math.min(1, (loaded - start) / size)) : 1;
          start += size;
        });
        setProgress(next);
      },
    };
    let result: CreateResult | null | undefined;
    try {
      const response = avatar
        ? await postOperation(CreateAvatarVideoMutation, { input: input as AvatarInput }, options).then((r) => ({
            errors: r.errors,
            result: r.data?.createAvatarVideo,
          }))
        : await postOperation(CreateVideoSoundMutation, { input: input as SoundInput }, options).then((r) => ({
            errors: r.errors,
            result: r.data?.createVideoSound,
          }));
      if (response.errors?.length) {
        setBusy(false);
        setProgress({});
        return showErrors({}, response.errors.map((x) => x.message).join('; '));
      }
      result = response.result;
    } catch (error) {
      setBusy(false);
      setProgress({});
      if (error instanceof HttpError && error.status === 401) return signOut(error.message);
      return showErrors({}, error instanceof Error ? error.message : String(error));
    }
    setBusy(false);
    if (!result) return showErrors({}, 'The API returned no result.');
    switch (result.__typename) {
      case 'Task':
        setFlash(`Task ${shortId(result.id)} created.`, result.id);
        navigate(href.tasks());
        return;
      case 'ValidationError': {
        setProgress({});
        const next: Errors = {};
        for (const issue of result.issues ?? [])
          addIssue(next, fieldFor(issue.path ?? [], s), issue.message ?? 'is not valid');
        return showErrors(next, Object.keys(next).length ? undefined : (result.message ?? 'The input is not valid.'));
      }
      case 'DuplicateExternalTaskId':
        setProgress({});
        return showErrors({
          externalTaskId: `another task already has this id (${result.externalTaskId ?? s.externalTaskId})`,
        });
      case 'ProviderUnavailable':
        setProgress({});
        return showErrors({}, result.message ?? `${result.provider ?? 'The provider'} cannot take tasks now.`);
    }
  }

  const err = (key: string) => errors[key];
  const errorEntries = Object.entries(errors);
  const avatar = s.capability === 'AVATAR_VIDEO';

  return (
    <>
      <PageTitle>New task</PageTitle>
      <form className="task-form" onSubmit={submit} noValidate aria-describedby="form-intro">
        <p id="form-intro" className="hint">
          Every option the API takes. Fields are checked here with the same rules as the server; media limits (size,
          dimensions, duration) are checked by the server before anything is sent to the provider.
        </p>
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

        <Section title="What to make">
          <Choice
            legend="Capability"
            name="capability"
            value={s.capability}
            options={[
              ['AVATAR_VIDEO', 'Avatar video', 'Portrait + speech → lip-synced talking video'],
              ['VIDEO_SOUND', 'Video sound', 'Video → generated sound effects and music'],
            ]}
            onChange={(v) => {
              setS((p) => ({ ...p, capability: v }));
              setErrors({});
            }}
          />
          {avatar ? (
            <Choice
              legend="Provider"
              name="provider"
              value={s.provider}
              options={[
                ['KLING', 'Kling', 'Avatar std / pro'],
                ['KIE', 'KIE.ai', 'InfiniteTalk from audio, 480p / 720p'],
                ['DIGITAL_HUMAN', 'Digital human', 'Audio, cloned voice or stock voice'],
              ]}
              onChange={(v) => {
                setS((p) => ({ ...p, provider: v }));
                setErrors({});
              }}
            />
          ) : (
            <p className="hint">Provider: Kling video-to-audio.</p>
          )}
        </Section>

        {avatar && s.provider === 'KLING' ? (
          <Section title="Kling avatar">
            <MediaField
              name="image"
              legend="Portrait image"
              kind="image"
              accept="image/png,image/jpeg"
              hint="jpg or png, ≤ 10 MB, each side ≥ 300 px, aspect between 1:2.5 and 2.5:1."
              value={s.image}
              error={err('image')}
              progress={progress.image}
              required
              onChange={(v) => set('image', v, 'image')}
            />
            <Choice
              legend="Speech"
              name="klingVoice"
              value={s.klingVoice}
              options={[
                ['audio', 'Audio file or URL', ''],
                ['audioId', 'Kling TTS audio id', ''],
              ]}
              onChange={(v) => set('klingVoice', v)}
            />
            {s.klingVoice === 'audio' ? (
              <MediaField
                name="audio"
                legend="Speech audio"
                kind="audio"
                accept="audio/mpeg,audio/wav,audio/x-wav,audio/mp4,audio/aac,audio/x-m4a,.mp3,.wav,.m4a,.aac"
                hint="mp3, wav, m4a or aac, ≤ 5 MB, 2–300 s."
                value={s.audio}
                error={err('audio')}
                progress={progress.audio}
                required
                onChange={(v) => set('audio', v, 'audio')}
              />
            ) : (
              <TextField
                name="kling.audioId"
                label="Kling TTS audio id"
                hint="audio_id of a Kling text-to-speech result (2–300 s, made within 30 days)."
                value={s.klingAudioId}
                error={err('kling.audioId')}
                required
                onChange={(v) => set('klingAudioId', v, 'kling.audioId')}
              />
            )}
            <TextArea
              name="prompt"
              label="Prompt"
              hint={`Optional: actions, emotions, camera. At most ${KLING_AVATAR_PROMPT_MAX} characters.`}
              max={KLING_AVATAR_PROMPT_MAX}
              value={s.prompt}
              error={err('prompt')}
              onChange={(v) => set('prompt', v, 'prompt')}
            />
            <SelectField
              name="kling.mode"
              label="Mode"
              value={s.klingMode}
              options={[
                ['STD', 'Standard (cost-effective)'],
                ['PRO', 'Professional (higher quality)'],
              ]}
              onChange={(v) => set('klingMode', v)}
            />
            <CheckField
              name="kling.watermark"
              label="Also produce a watermarked video"
              checked={s.klingWatermark}
              onChange={(v) => set('klingWatermark', v)}
            />
          </Section>
        ) : null}

        {avatar && s.provider === 'KIE' ? (
          <Section title="KIE.ai InfiniteTalk">
            <MediaField
              name="image"
              legend="Portrait image"
              kind="image"
              accept="image/png,image/jpeg,image/webp"
              hint="jpeg, png or webp, ≤ 10 MB."
              value={s.image}
              error={err('image')}
              progress={progress.image}
              required
              onChange={(v) => set('image', v, 'image')}
            />
            <MediaField
              name="audio"
              legend="Speech audio"
              kind="audio"
              accept="audio/*,.mp3,.wav,.aac,.m4a,.ogg"
              hint="mp3, wav, aac, m4a or ogg, ≤ 10 MB."
              value={s.audio}
              error={err('audio')}
              progress={progress.audio}
              required
              onChange={(v) => set('audio', v, 'audio')}
            />
            <TextArea
              name="prompt"
              label="Prompt"
              hint={`Required. At most ${KIE_PROMPT_MAX} characters.`}
              max={KIE_PROMPT_MAX}
              required
              value={s.prompt}
              error={err('prompt')}
              onChange={(v) => set('prompt', v, 'prompt')}
            />
            <SelectField
              name="kie.resolution"
              label="Resolution"
              value={s.kieResolution}
              options={[
                ['RES_480P', '480p'],
                ['RES_720P', '720p'],
              ]}
              onChange={(v) => set('kieResolution', v)}
            />
            <TextField
              name="kie.seed"
              label="Seed"
              inputMode="numeric"
              hint={`Optional, a whole number from ${KIE_SEED_MIN} to ${KIE_SEED_MAX}.`}
              value={s.kieSeed}
              error={err('kie.seed')}
              onChange={(v) => set('kieSeed', v, 'kie.seed')}
            />
          </Section>
        ) : null}

        {avatar && s.provider === 'DIGITAL_HUMAN' ? (
          <Section title="Digital human">
            <Choice
              legend="Avatar"
              name="dhAvatar"
              value={s.dhAvatar}
              options={[
                ['image', 'An image', ''],
                ['video', 'A video', ''],
              ]}
              onChange={(v) => set('dhAvatar', v)}
            />
            {s.dhAvatar === 'image' ? (
              <MediaField
                name="image"
                legend="Portrait image"
                kind="image"
                accept="image/png,image/jpeg,image/webp"
                hint="jpeg, png or webp."
                value={s.image}
                error={err('image')}
                progress={progress.image}
                required
                onChange={(v) => set('image', v, 'image')}
              />
            ) : (
              <MediaField
                name="video"
                legend="Avatar video"
                kind="video"
                accept="video/mp4,video/quicktime,.mp4,.mov"
                hint="mp4 or mov."
                value={s.video}
                error={err('video')}
                progress={progress.video}
                required
                onChange={(v) => set('video', v, 'video')}
              />
            )}
            <Choice
              legend="Voice"
              name="dhVoice"
              value={s.dhVoice}
              options={[
                ['audio', 'Driving audio', 'The avatar speaks this recording'],
                ['clone', 'Cloned voice', 'Clone a voice sample, speak a text'],
                ['stock', 'Stock voice', 'Speak a text with a stock voice'],
              ]}
              onChange={(v) => set('dhVoice', v)}
            />
            {s.dhVoice === 'audio' ? (
              <MediaField
                name="audio"
                legend="Speech audio"
                kind="audio"
                accept="audio/*,.mp3,.wav,.m4a,.aac"
                hint="The speech that drives the avatar."
                value={s.audio}
                error={err('audio')}
                progress={progress.audio}
                required
                onChange={(v) => set('audio', v, 'audio')}
              />
            ) : null}
            {s.dhVoice === 'clone' ? (
              <>
                <MediaField
                  name="digitalHuman.cloneVoice.audio"
                  legend="Voice sample"
                  kind="audio"
                  accept="audio/*,.mp3,.wav,.m4a,.aac"
                  hint="At least 20 s of clear speech."
                  value={s.cloneAudio}
                  error={err('digitalHuman.cloneVoice.audio')}
                  progress={progress['digitalHuman.cloneVoice.audio']}
                  required
                  onChange={(v) => set('cloneAudio', v, 'digitalHuman.cloneVoice.audio')}
                />
                <TextField
                  name="digitalHuman.cloneVoice.language"
                  label="Language"
                  hint="A language code, e.g. en or cn."
                  value={s.cloneLanguage}
                  error={err('digitalHuman.cloneVoice.language')}
                  required
                  onChange={(v) => set('cloneLanguage', v, 'digitalHuman.cloneVoice.language')}
                />
                <TextArea
                  name="digitalHuman.cloneVoice.text"
                  label="Text to speak"
                  hint={`At most ${DIGITAL_HUMAN_TEXT_MAX} characters.`}
                  max={DIGITAL_HUMAN_TEXT_MAX}
                  required
                  value={s.cloneText}
                  error={err('digitalHuman.cloneVoice.text')}
                  onChange={(v) => set('cloneText', v, 'digitalHuman.cloneVoice.text')}
                />
              </>
            ) : null}
            {s.dhVoice === 'stock' ? (
              <>
                <TextField
                  name="digitalHuman.stockVoice.voiceEngineId"
                  label="Voice engine id"
                  hint="The reseller's voice engine."
                  value={s.stockVoiceEngineId}
                  error={err('digitalHuman.stockVoice.voiceEngineId')}
                  required
                  onChange={(v) => set('stockVoiceEngineId', v, 'digitalHuman.stockVoice.voiceEngineId')}
                />
                <TextField
                  name="digitalHuman.stockVoice.audioId"
                  label="Voice id"
                  hint="The stock voice (audio id) of that engine."
                  value={s.stockAudioId}
                  error={err('digitalHuman.stockVoice.audioId')}
                  required
                  onChange={(v) => set('stockAudioId', v, 'digitalHuman.stockVoice.audioId')}
                />
                <TextField
                  name="digitalHuman.stockVoice.language"
                  label="Language"
                  hint="A language code, e.g. en or cn."
                  value={s.stockLanguage}
                  error={err('digitalHuman.stockVoice.language')}
                  required
                  onChange={(v) => set('stockLanguage', v, 'digitalHuman.stockVoice.language')}
                />
                <TextArea
                  name="digitalHuman.stockVoice.text"
                  label="Text to speak"
                  hint={`At most ${DIGITAL_HUMAN_TEXT_MAX} characters.`}
                  max={DIGITAL_HUMAN_TEXT_MAX}
                  required
                  value={s.stockText}
                  error={err('digitalHuman.stockVoice.text')}
                  onChange={(v) => set('stockText', v, 'digitalHuman.stockVoice.text')}
                />
              </>
            ) : null}
            <CheckField
              name="digitalHuman.noWatermark"
              label="No watermark"
              checked={s.dhNoWatermark}
              onChange={(v) => set('dhNoWatermark', v)}
            />
          </Section>
        ) : null}

        {!avatar ? (
          <Section title="Kling video to audio">
            <Choice
              legend="Video"
              name="soundSource"
              value={s.soundSource}
              options={[
                ['video', 'A video file or URL', ''],
                ['videoId', 'A Kling-generated video id', ''],
              ]}
              onChange={(v) => set('soundSource', v)}
            />
            {s.soundSource === 'video' ? (
              <MediaField
                name="video"
                legend="Video"
                kind="video"
                accept="video/mp4,video/quicktime,.mp4,.mov"
                hint="mp4 or mov, ≤ 100 MB, 3–20 s."
                value={s.video}
                error={err('video')}
                progress={progress.video}
                required
                onChange={(v) => set('video', v, 'video')}
              />
            ) : (
              <TextField
                name="videoId"
                label="Kling video id"
                hint="video_id of a video Kling generated."
                value={s.videoId}
                error={err('videoId')}
                required
                onChange={(v) => set('videoId', v, 'videoId')}
              />
            )}
            <TextArea
              name="soundEffectPrompt"
              label="Sound effect prompt"
              hint={`Optional, at most ${KLING_SOUND_PROMPT_MAX} characters.`}
              max={KLING_SOUND_PROMPT_MAX}
              value={s.soundEffectPrompt}
              error={err('soundEffectPrompt')}
              onChange={(v) => set('soundEffectPrompt', v, 'soundEffectPrompt')}
            />
            <TextArea
              name="bgmPrompt"
              label="Background music prompt"
              hint={`Optional, at most ${KLING_SOUND_PROMPT_MAX} characters.`}
              max={KLING_SOUND_PROMPT_MAX}
              value={s.bgmPrompt}
              error={err('bgmPrompt')}
              onChange={(v) => set('bgmPrompt', v, 'bgmPrompt')}
            />
            <CheckField
              name="asmrMode"
              label="ASMR mode (richer detail sounds)"
              checked={s.asmrMode}
              onChange={(v) => set('asmrMode', v)}
            />
          </Section>
        ) : null}

        <Section title="Tracking and delivery">
          <TextField
            name="externalTaskId"
            label="External task id"
            hint="Optional: your own id, unique in your tenant (letters, digits and . _ : -). Find the task by it later."
            value={s.externalTaskId}
            error={err('externalTaskId')}
            onChange={(v) => set('externalTaskId', v, 'externalTaskId')}
          />
          <TextField
            name="webhookUrl"
            label="Webhook URL"
            type="url"
            hint="Optional: every event of this task is POSTed here, signed. Default: your tenant's webhook URL."
            value={s.webhookUrl}
            error={err('webhookUrl')}
            onChange={(v) => set('webhookUrl', v, 'webhookUrl')}
          />
        </Section>

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
            {busy ? (Object.keys(progress).length ? 'Uploading…' : 'Sending…') : ''}
          </span>
        </div>
      </form>
    </>
  );
}

function Section({ title, children }: { title: string; children: ReactNode }) {
  const id = useId();
  return (
    <section className="card form-section" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function Choice<T extends string>({
  legend,
  name,
  value,
  options,
  onChange,
}: {
  legend: string;
  name: string;
  value: T;
  options: [T, string, string][];
  onChange(v: T): void;
}) {
  const id = useId();
  return (
    <fieldset className="field choice">
      <legend>{legend}</legend>
      <div className="choices">
        {options.map(([v, text, sub]) => (
          <label key={v} className="choice-card" htmlFor={`${id}-${v}`}>
            <input
              id={`${id}-${v}`}
              type="radio"
              name={`${name}-${id}`}
              value={v}
              checked={value === v}
              onChange={() => onChange(v)}
            />
            <span>
              <span className="choice-title">{text}</span>
              {sub ? <span className="choice-sub">{sub}</span> : null}
            </span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

function FieldShell({
  name,
  label,
  hint,
  error,
  required,
  children,
}: {
  name: string;
  label: string;
  hint?: string;
  error?: string | undefined;
  required?: boolean;
  children: ReactNode;
}) {
  const id = fieldId(name);
  return (
    <div className={`field${error ? ' has-error' : ''}`}>
      <label htmlFor={id}>
        {label}
        {required ? <span className="req"> (required)</span> : null}
      </label>
      {children}
      {hint ? (
        <p id={`${id}-hint`} className="hint">
          {hint}
        </p>
      ) : null}
      {error ? (
        <p id={`${id}-error`} className="field-error" data-field={name}>
          {error}
        </p>
      ) : null}
    </div>
  );
}

function describedBy(name: string, hint: string | undefined, error: string | undefined): string | undefined {
  const id = fieldId(name);
  return [hint ? `${id}-hint` : null, error ? `${id}-error` : null].filter(Boolean).join(' ') || undefined;
}

function TextField({
  name,
  label,
  hint,
  error,
  value,
  required,
  type = 'text',
  inputMode,
  onChange,
}: {
  name: string;
  label: string;
  hint?: string;
  error?: string | undefined;
  value: string;
  required?: boolean;
  type?: 'text' | 'url';
  inputMode?: 'numeric' | 'text';
  onChange(v: string): void;
}) {
  return (
    <FieldShell name={name} label={label} hint={hint} error={error} required={required ?? false}>
      <input
        id={fieldId(name)}
        name={name}
        type={type}
        inputMode={inputMode}
        value={value}
        spellCheck={false}
        aria-required={required || undefined}
        aria-invalid={error ? true : undefined}
        aria-describedby={describedBy(name, hint, error)}
        onChange={(e) => onChange(e.target.value)}
      />
    </FieldShell>
  );
}

function TextArea({
  name,
  label,
  hint,
  error,
  value,
  max,
  required,
  onChange,
}: {
  name: string;
  label: string;
  hint?: string;
  error?: string | undefined;
  value: string;
  max: number;
  required?: boolean;
  onChange(v: string): void;
}) {
  const over = value.length > max;
  return (
    <FieldShell name={name} label={label} hint={hint} error={error} required={required ?? false}>
      <textarea
        id={fieldId(name)}
        name={name}
        rows={3}
        value={value}
        aria-required={required || undefined}
        aria-invalid={error || over ? true : undefined}
        aria-describedby={describedBy(name, hint, error)}
        onChange={(e) => onChange(e.target.value)}
      />
      <span className={`counter small${over ? ' over' : ' muted'}`} aria-live={over ? 'polite' : 'off'}>
        {value.length} / {max}
      </span>
    </FieldShell>
  );
}

function SelectField<T extends string>({
  name,
  label,
  value,
  options,
  onChange,
}: {
  name: string;
  label: string;
  value: T;
  options: [T, string][];
  onChange(v: T): void;
}) {
  return (
    <FieldShell name={name} label={label}>
      <select id={fieldId(name)} name={name} value={value} onChange={(e) => onChange(e.target.value as T)}>
        {options.map(([v, text]) => (
          <option key={v} value={v}>
            {text}
          </option>
        ))}
      </select>
    </FieldShell>
  );
}

function CheckField({
  name,
  label,
  checked,
  onChange,
}: {
  name: string;
  label: string;
  checked: boolean;
  onChange(v: boolean): void;
}) {
  return (
    <div className="field check-field">
      <label className="check" htmlFor={fieldId(name)}>
        <input
          id={fieldId(name)}
          name={name}
          type="checkbox"
          checked={checked}
          onChange={(e) => onChange(e.target.checked)}
        />
        {label}
      </label>
    </div>
  );
}
