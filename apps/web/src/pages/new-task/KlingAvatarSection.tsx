import { Section } from '../../components/fields';
import { Check, LongText, Media, Pick, Select, Text } from './bound';
import { KLING_MODES, KLING_VOICES, LONG_TEXT, MEDIA, TEXT } from './specs';

const SPEECH = { audio: <Media spec={MEDIA.klingAudio} />, audioId: <Text spec={TEXT.klingAudioId} /> };

/** AVATAR_VIDEO on Kling: a portrait and speech (a recording or a Kling TTS audio id). */
export function KlingAvatarSection() {
  return (
    <Section title="Kling avatar">
      <Media spec={MEDIA.klingImage} />
      <Pick field="klingVoice" legend="Speech" options={KLING_VOICES} then={SPEECH} />
      <LongText spec={LONG_TEXT.klingPrompt} />
      <Select field="klingMode" name="kling.mode" label="Mode" options={KLING_MODES} />
      <Check field="klingWatermark" name="kling.watermark" label="Also produce a watermarked video" />
    </Section>
  );
}
