import { Section } from '../../components/fields';
import { Check, LongText, Media, Pick, Text } from './bound';
import { LONG_TEXT, MEDIA, SOUND_SOURCES, TEXT } from './specs';

const SOURCE = { video: <Media spec={MEDIA.soundVideo} />, videoId: <Text spec={TEXT.videoId} /> };

/** VIDEO_SOUND on Kling: a video (or the id of one Kling made) and optional prompts. */
export function VideoSoundSection() {
  return (
    <Section title="Kling video to audio">
      <Pick field="soundSource" legend="Video" options={SOUND_SOURCES} then={SOURCE} />
      <LongText spec={LONG_TEXT.soundEffectPrompt} />
      <LongText spec={LONG_TEXT.bgmPrompt} />
      <Check field="asmrMode" name="asmrMode" label="ASMR mode (richer detail sounds)" />
    </Section>
  );
}
