import { createServer, type Server } from 'node:net';
import { tasks } from '@clipwire/schema/tables';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CREATE_AVATAR, fixture, SAMPLE_INPUT, startStack, type Stack } from './support/stack.js';

let stack: Stack;
let canary: Server;
let canaryPort = 0;
let canaryConnections = 0;
beforeAll(async () => {
  stack = await startStack();
  canary = createServer((socket) => {
    canaryConnections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => canary.listen(0, '127.0.0.1', resolve));
  canaryPort = (canary.address() as { port: number }).port;
});
afterAll(async () => {
  await stack?.stop();
  await new Promise((r) => canary.close(r));
});

async function storedImageId(externalTaskId: string): Promise<string> {
  const [task] = await stack.app.db.db.select().from(tasks).where(eq(tasks.externalTaskId, externalTaskId));
  return (task!.providerRequest as { image: { mediaId: string } }).image.mediaId;
}

describe('/media links', () => {
  it('serve stored inputs only with a valid, unexpired signature', async () => {
    await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, externalTaskId: 'media-1' } });
    const id = await storedImageId('media-1');
    const media = stack.app.services.media;

    const ok = await fetch(`${stack.url}${media.signedPath(id)}`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await ok.arrayBuffer()).equals(fixture('portrait-512x640.png'))).toBe(true);

    const path = media.signedPath(id);
    const tampered = path.replace(/sig=(.)/, (_m, c: string) => `sig=${c === 'A' ? 'B' : 'A'}`);
    expect((await fetch(`${stack.url}${tampered}`)).status).toBe(403);
    expect((await fetch(`${stack.url}/media/${id}`)).status).toBe(403);
    const longer = path.replace(/exp=(\d+)/, (_m, e: string) => `exp=${Number(e) + 1}`);
    expect((await fetch(`${stack.url}${longer}`)).status).toBe(403);
    const expired = media.signedPath(id, Date.now() - 2 * 24 * 3600 * 1000);
    expect(await (await fetch(`${stack.url}${expired}`)).json()).toEqual({ error: 'link expired' });
    const unknown = media.signedPath('00000000-0000-4000-8000-000000000000');
    expect((await fetch(`${stack.url}${unknown}`)).status).toBe(404);
  });
});

describe('URL media are fetched only from public addresses', () => {
  const hostile = () => [
    `http://127.0.0.1:${canaryPort}/portrait.png`,
    `http://localhost:${canaryPort}/portrait.png`,
    `http://[::1]:${canaryPort}/portrait.png`,
    `http://2130706433:${canaryPort}/portrait.png`,
    `http://0x7f.1:${canaryPort}/portrait.png`,
    'http://169.254.169.254/latest/meta-data/',
    'http://10.0.0.1/portrait.png',
    'http://[::ffff:127.0.0.1]/portrait.png',
    'file:///etc/passwd',
    'ftp://example.com/portrait.png',
    `http://user:secret@127.0.0.1:${canaryPort}/portrait.png`,
  ];

  it('refuses every hostile image URL with an issue on input.image, creates nothing, and never connects', async () => {
    // The /media test's task is submitted in the background: let it finish so its create is counted before.
    await stack.waitForAllFinal();
    const before = stack.sim.kling.createCount();
    for (const url of hostile()) {
      const res = await stack.gql(CREATE_AVATAR, { input: { image: { url }, audio: SAMPLE_INPUT.audio } });
      const result = res.data?.createAvatarVideo;
      expect(result?.__typename, `${url}: ${JSON.stringify(res)}`).toBe('ValidationError');
      expect(result.issues[0].path.slice(0, 2)).toEqual(['input', 'image']);
      expect(JSON.stringify(result.issues)).not.toContain('secret');
    }
    expect(canaryConnections).toBe(0);
    expect(stack.sim.kling.createCount()).toBe(before);
    const list = await stack.gql('{ tasks(first: 100) { edges { node { id } } } }');
    expect(list.data!.tasks.edges).toHaveLength(1); // the one from the /media test only
  });

  it('fetches the sandbox simulator’s own media, the one loopback origin allowed', async () => {
    const res = await stack.gql(
      `mutation ($input: CreateVideoSoundInput!) { createVideoSound(input: $input) { __typename } }`,
      { input: { video: { url: `${stack.sim.url}/media/kling/video-with-sound-sample.mp4` } } },
    );
    expect(res.data!.createVideoSound.__typename).toBe('Task');
  });
});
