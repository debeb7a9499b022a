import { fileURLToPath } from 'node:url';

/** packages/providers/media: the committed sample output video(s) the simulator serves. */
export const mediaDir = fileURLToPath(new URL('../../media', import.meta.url));

/** packages/providers/media/fixtures: real input files (portrait-512x640.png, speech-3s.mp3) for tests. */
export const fixturesDir = fileURLToPath(new URL('../../media/fixtures', import.meta.url));
