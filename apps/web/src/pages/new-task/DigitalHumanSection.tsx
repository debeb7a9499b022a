import { Section } from '../../components/fields';
import { Check, LongText, Media, Pick, Text } from './bound';
import { DH_AVATARS, DH_VOICES, LONG_TEXT, MEDIA, TEXT } from './specs';
import { useForm } from './state';

/** AVATAR_VIDEO on the digital-human reseller: an image or video avatar, and a recording, cloned or stock voice. */
export function DigitalHumanSection() {
  const { s } = useForm();
  return (
    <Section title="Digital human">
      <Pick field="dhAvatar" legend="Avatar" options={DH_AVATARS} />
      {s.dhAvatar === 'image' ? <Media spec={MEDIA.dhImage} /> : <Media spec={MEDIA.dhVideo} />}
      <Pick field="dhVoice" legend="Voice" options={DH_VOICES} />
      {s.dhVoice === 'audio' ? <Media spec={MEDIA.dhAudio} /> : null}
      {s.dhVoice === 'clone' ? (
        <>
          <Media spec={MEDIA.cloneAudio} />
          <Text spec={TEXT.cloneLanguage} />
          <LongText spec={LONG_TEXT.cloneText} />
        </>
      ) : null}
      {s.dhVoice === 'stock' ? (
        <>
          <Text spec={TEXT.stockVoiceEngineId} />
          <Text spec={TEXT.stockAudioId} />
          <Text spec={TEXT.stockLanguage} />
          <LongText spec={LONG_TEXT.stockText} />
        </>
      ) : null}
      <Check field="dhNoWatermark" name="digitalHuman.noWatermark" label="No watermark" />
    </Section>
  );
}
