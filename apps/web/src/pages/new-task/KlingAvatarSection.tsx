import { Section } from '../../components/fields';
import { Check, LongText, Media, Pick, Select, Text } from './bound';
import { KLING_MODES, KLING_VOICES, LONG_TEXT, MEDIA, TEXT } from './specs';
import { useForm } from './state';

/** AVATAR_VIDEO on Kling: a portrait and speech (a recording or a Kling TTS audio id). */
export function KlingAvatarSection() {
  const { s } = useForm();
  return (
    <Section title="Kling avatar">
      <Media spec={MEDIA.klingImage} />
      <Pick field="klingVoice" legend="Speech" options={KLING_VOICES} />
      {s.klingVoice === 'audio' ? <Media spec={MEDIA.klingAudio} /> : <Text spec={TEXT.klingAudioId} />}
      <LongText spec={LONG_TEXT.klingPrompt} />
      <Select field="klingMode" name="kling.mode" label="Mode" options={KLING_MODES} />
      <Check field="klingWatermark" name="kling.watermark" label="Also produce a watermarked video" />
    </Section>
  );
}
