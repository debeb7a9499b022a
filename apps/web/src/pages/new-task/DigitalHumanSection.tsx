import { Section } from '../../components/fields';
import { Check, LongText, Media, Pick, Text } from './bound';
import { useForm } from './state';
import { DH_AVATARS, DH_VOICES, LONG_TEXT, MEDIA, TEXT } from './specs';

const AVATAR = { image: <Media spec={MEDIA.dhImage} />, video: <Media spec={MEDIA.dhVideo} /> };

/** The driving recording, or a voice sample and a text, or a stock voice and a text. */
const VOICE = {
  audio: <Media spec={MEDIA.dhAudio} />,
  clone: (
    <>
      <Media spec={MEDIA.cloneAudio} />
      <Text spec={TEXT.cloneLanguage} />
      <LongText spec={LONG_TEXT.cloneText} />
    </>
  ),
  stock: (
    <>
      <Text spec={TEXT.stockVoiceEngineId} />
      <Text spec={TEXT.stockAudioId} />
      <Text spec={TEXT.stockLanguage} />
      <LongText spec={LONG_TEXT.stockText} />
    </>
  ),
};

/** AVATAR_VIDEO on the digital-human reseller: an image or video avatar, and a recording, cloned or stock voice. */
export function DigitalHumanSection() {
  const { s } = useForm();
  // The reseller takes no_watermark only with a driving recording (audio_url): refused, not ignored.
  const recording = s.dhVoice === 'audio';
  return (
    <Section title="Digital human">
      <Pick field="dhAvatar" legend="Avatar" options={DH_AVATARS} then={AVATAR} />
      <Pick field="dhVoice" legend="Voice" options={DH_VOICES} then={VOICE} />
      <Check
        field="dhNoWatermark"
        name="digitalHuman.noWatermark"
        label="No watermark"
        disabled={!recording}
        hint={
          recording
            ? 'The clean video, without the reseller watermark.'
            : 'Only with a recording: the reseller always watermarks cloned and stock voices.'
        }
      />
    </Section>
  );
}
