import { Section } from '../../components/fields';
import { LongText, Media, Select, Text } from './bound';
import { KIE_RESOLUTIONS, LONG_TEXT, MEDIA, TEXT } from './specs';

/** AVATAR_VIDEO on KIE.ai (InfiniteTalk): a portrait, a recording and a prompt. */
export function KieAvatarSection() {
  return (
    <Section title="KIE.ai InfiniteTalk">
      <Media spec={MEDIA.kieImage} />
      <Media spec={MEDIA.kieAudio} />
      <LongText spec={LONG_TEXT.kiePrompt} />
      <Select field="kieResolution" name="kie.resolution" label="Resolution" options={KIE_RESOLUTIONS} />
      <Text spec={TEXT.kieSeed} />
    </Section>
  );
}
