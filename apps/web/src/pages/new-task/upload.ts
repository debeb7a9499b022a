import { postOperation } from '../../api';
import { CreateAvatarVideoMutation, CreateVideoSoundMutation, type CreateResult } from '../../documents';
import type { AvatarInput, SoundInput } from './inputs';

/**
 * Sends the create mutation, reporting each file's upload progress (0–1) by its field path
 * (`image`, `digitalHuman.cloneVoice.audio`). Throws what postOperation throws.
 */
export async function sendTask(
  request: { avatar: true; input: AvatarInput } | { avatar: false; input: SoundInput },
  apiKey: string,
  setProgress: (progress: Record<string, number>) => void,
): Promise<{ errors: readonly { message: string }[] | undefined; result: CreateResult | null | undefined }> {
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
  if (request.avatar) {
    const r = await postOperation(CreateAvatarVideoMutation, { input: request.input }, options);
    return { errors: r.errors, result: r.data?.createAvatarVideo };
  }
  const r = await postOperation(CreateVideoSoundMutation, { input: request.input }, options);
  return { errors: r.errors, result: r.data?.createVideoSound };
}
