import { Section } from '../../components/fields';
import { Check, LongText, Media, Pick, Text } from './bound';
import { LONG_TEXT, MEDIA, SOUND_SOURCES, TEXT } from './specs';
import { useForm } from './state';

/** VIDEO_SOUND on Kling: a video (or the id of one Kling made) and optional prompts. */
export function VideoSoundSection() {
  const { s } = useForm();
  return (
    <Section title="Kling video to audio">
      <Pick field="soundSource" legend="Video" options={SOUND_SOURCES} />
      {s.soundSource === 'video' ? <Media spec={MEDIA.soundVideo} /> : <Text spec={TEXT.videoId} />}
      <LongText spec={LONG_TEXT.soundEffectPrompt} />
      <LongText spec={LONG_TEXT.bgmPrompt} />
      <Check field="asmrMode" name="asmrMode" label="ASMR mode (richer detail sounds)" />
    </Section>
  );
}
