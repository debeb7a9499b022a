import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { simulatorMediaBytes } from '@clipwire/providers/simulator';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NO_API_RATE_LIMIT, startReceiver, type WebhookReceiver } from '../resilience/resilience-support.js';
import { findTaskById } from '../../src/tasks/repository.js';
import { uuidOf } from '../support/ids.js';
import {
  CREATE_AVATAR,
  CREATE_SOUND,
  eventually,
  fixture,
  SAMPLE_INPUT,
  startStack,
  type Stack,
} from '../support/stack.js';

/*
 * Outputs archived (issue 22, part 3): a SUCCEEDED task's outputs are copied from the provider (the
 * simulator over HTTP) into the object store; its links become Clipwire's, and keep working after the
 * provider deleted its own (SIMULATOR_OUTPUT_TTL_S).
 */

const OUTPUTS = `status completedAt
  videos { id url watermarkUrl providerUrl providerWatermarkUrl providerUrlExpiresAt archiveStatus }
  audios { mp3Url wavUrl providerUrl providerMp3Url providerWavUrl providerUrlExpiresAt archiveStatus }
  events { edges { node { status type source } } }`;
const TASK = `query ($id: ID!) { task(id: $id) { ${OUTPUTS} } }`;

const sha256 = (bytes: Buffer | Uint8Array) => createHash('sha256').update(bytes).digest('hex');
/** The bytes the simulator served at a provider link (its made-to-length file, the same on every request). */
const served = (providerUrl: string) => simulatorMediaBytes(basename(new URL(providerUrl).pathname));

async function download(url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, bytes };
}

/** Waits until the task's outputs are no longer PENDING, and returns the task. */
async function settled(stack: Stack, id: string): Promise<Record<string, any>> {
  return eventually(
    async () => {
      const task = (await stack.gql(TASK, { id })).data?.task;
      const outputs = [...(task?.videos ?? []), ...(task?.audios ?? [])];
      return task?.status === 'SUCCEEDED' && outputs.every((o: any) => o.archiveStatus !== 'PENDING') ? task : null;
    },
    20_000,
    `task ${id}'s outputs to be archived`,
  );
}

describe('outputs archived (fs store)', () => {
  let stack: Stack;
  let receiver: WebhookReceiver;
  beforeAll(async () => {
    receiver = await startReceiver();
    // The provider keeps its outputs 10 s: long enough to copy them on a loaded machine, short enough to outlive.
    stack = await startStack({
      outputTtlSeconds: 10,
      env: { ...NO_API_RATE_LIMIT, WEBHOOK_ALLOW_ORIGINS: receiver.origin },
    });
  });
  afterAll(async () => {
    await stack?.stop();
    await receiver?.stop();
  });

  it("a Kling avatar's video and watermarked video still download from Clipwire, whole and seekable, after the provider expired them", {
    timeout: 60_000,
  }, async () => {
    const input = { ...SAMPLE_INPUT, kling: { watermark: true }, webhookUrl: receiver.url('/kling') };
    const created = await stack.gql(CREATE_AVATAR, { input });
    const id = created.data!.createAvatarVideo.id as string;
    const task = await settled(stack, id);
    const [video] = task.videos;
    expect(video.archiveStatus).toBe('ARCHIVED');
    // The provider's links, kept, with Kling's documented 30 days.
    expect(video.providerUrl).toMatch(
      new RegExp(`^${stack.sim.url}/media/kling/avatar-sample(-\\d+ms)?\\.mp4\\?expires=`),
    );
    expect(video.providerWatermarkUrl).toMatch(/avatar-sample-watermarked(-\d+ms)?\.mp4\?expires=/);
    expect(Date.parse(video.providerUrlExpiresAt) - Date.parse(task.completedAt)).toBeGreaterThanOrEqual(
      30 * 86_400_000 - 60_000,
    );
    expect(Date.parse(video.providerUrlExpiresAt) - Date.parse(task.completedAt)).toBeLessThanOrEqual(30 * 86_400_000);
    // Clipwire's links: under the task's key prefix.
    const tenantTask = `${uuidOf(id)}`;
    expect(video.url).toMatch(new RegExp(`^${stack.url}/outputs/[0-9a-f-]{36}/${tenantTask}/video-0\\.mp4\\?sig=`));
    expect(video.watermarkUrl).toMatch(
      new RegExp(`/outputs/[0-9a-f-]{36}/${tenantTask}/video-0-watermarked\\.mp4\\?sig=`),
    );
    // The archive's event: SUCCEEDED still, of its own type, after the status change.
    const events = task.events.edges.map((e: any) => e.node);
    expect(events.at(-1)).toEqual({ status: 'SUCCEEDED', type: 'OUTPUTS_ARCHIVED', source: 'SYSTEM' });
    const changes = events.filter((e: any) => e.type === 'STATUS_CHANGED').map((e: any) => e.status);
    expect(changes.at(-1)).toBe('SUCCEEDED');
    expect(events.filter((e: any) => e.type !== 'STATUS_CHANGED')).toHaveLength(1);

    // The provider deletes its outputs…
    await eventually(
      async () => (await download(video.providerUrl)).status === 410,
      20_000,
      'the simulator to expire the output',
    );
    expect((await download(video.providerWatermarkUrl)).status).toBe(410);
    // …Clipwire still serves them, byte for byte, with their type, and in ranges.
    const original = await served(video.providerUrl);
    const whole = await download(video.url);
    expect(whole.status).toBe(200);
    expect(whole.headers['content-type']).toBe('video/mp4');
    expect(sha256(whole.bytes)).toBe(sha256(original));
    const part = await download(video.url, { range: 'bytes=100-199' });
    expect(part.status).toBe(206);
    expect(part.headers['content-range']).toBe(`bytes 100-199/${original.length}`);
    expect(part.bytes.equals(original.subarray(100, 200))).toBe(true);
    const watermarked = await download(video.watermarkUrl);
    expect(sha256(watermarked.bytes)).toBe(sha256(await served(video.providerWatermarkUrl)));
    // A link whose signature is wrong is refused.
    expect((await download(video.url.replace(/sig=.{4}/, 'sig=AAAA'))).status).toBe(403);

    // The webhook of the archive's event carries Clipwire's links.
    const bodies = await eventually(
      async () => {
        const list = receiver.on('/kling').map((d) => d.json);
        return list.some((b) => b.type === 'task.outputs_archived') ? list : null;
      },
      10_000,
      'the archive webhook',
    );
    const archived = bodies.find((b) => b.type === 'task.outputs_archived');
    expect(archived.data.event).toMatchObject({ status: 'SUCCEEDED', type: 'OUTPUTS_ARCHIVED' });
    expect(archived.data.task.videos[0]).toMatchObject({
      url: video.url,
      watermarkUrl: video.watermarkUrl,
      providerUrl: video.providerUrl,
      archiveStatus: 'ARCHIVED',
    });
    // Delivered in order: the archive's after the SUCCEEDED status change's.
    const types = bodies.map((b) => `${b.type}:${b.data.event.status}`);
    expect(types.indexOf('task.updated:SUCCEEDED')).toBeGreaterThanOrEqual(0);
    expect(types.indexOf('task.outputs_archived:SUCCEEDED')).toBeGreaterThan(types.indexOf('task.updated:SUCCEEDED'));
  });

  it("a Kling video-to-audio task's video, MP3 and WAV are archived with their types and checksums", async () => {
    const created = await stack.upload(
      CREATE_SOUND,
      { input: { video: { file: null } } },
      { 'input.video.file': new Blob([fixture('clip-4s.mp4')], { type: 'video/mp4' }) },
    );
    const id = created.data!.createVideoSound.id as string;
    const task = await settled(stack, id);
    const [audio] = task.audios;
    expect(audio.archiveStatus).toBe('ARCHIVED');
    expect(audio.providerUrl).toBe(audio.providerMp3Url);
    for (const [url, providerUrl, type] of [
      [audio.mp3Url, audio.providerMp3Url, 'audio/mpeg'],
      [audio.wavUrl, audio.providerWavUrl, 'audio/wav'],
      [task.videos[0].url, task.videos[0].providerUrl, 'video/mp4'],
    ] as const) {
      expect(url).toContain(`${stack.url}/outputs/`);
      const got = await download(url);
      expect(got.headers['content-type']).toBe(type);
      expect(sha256(got.bytes)).toBe(sha256(await served(providerUrl)));
    }
    // What the store recorded: the checksum taken while writing, the size.
    const row = await findTaskById(stack.app.db.db, uuidOf(id));
    const mp3 = row!.output.audios[0]!.archive!.files.mp3Url!;
    expect(mp3.sha256).toBe(sha256(await served(audio.providerMp3Url)));
    expect(await stack.app.services.objects.head(mp3.key)).toMatchObject({
      sizeBytes: mp3.sizeBytes,
      contentType: 'audio/mpeg',
    });
  });

  it("a KIE task's video is archived, and the tenant's feed carries the archive's event with Clipwire's link; the provider link's documented life is 14 days", async () => {
    const latest = (await stack.gql('{ latestTaskEventCursor }')).data!.latestTaskEventCursor as string | null;
    const feed: any[] = [];
    const unsubscribe = stack.ws().subscribe(
      {
        query: `subscription ($after: String) { taskEvents(after: $after) { type status task { id videos { url archiveStatus } } } }`,
        variables: { after: latest },
      },
      { next: (v) => void feed.push(v.data?.taskEvents), error: () => {}, complete: () => {} },
    );
    const input = { ...SAMPLE_INPUT, provider: 'KIE', prompt: 'a person speaking' };
    const created = await stack.gql(CREATE_AVATAR, { input });
    const id = created.data!.createAvatarVideo.id as string;
    const task = await settled(stack, id);
    const [video] = task.videos;
    expect(video.archiveStatus).toBe('ARCHIVED');
    const archivedEvent = await eventually(
      async () => feed.find((e) => e?.task?.id === id && e.type === 'OUTPUTS_ARCHIVED'),
      10_000,
      'the archive event on the feed',
    );
    unsubscribe();
    expect(archivedEvent).toEqual({
      type: 'OUTPUTS_ARCHIVED',
      status: 'SUCCEEDED',
      task: { id, videos: [{ url: video.url, archiveStatus: 'ARCHIVED' }] },
    });
    expect(video.url).toContain(`${stack.url}/outputs/`);
    expect(Date.parse(video.providerUrlExpiresAt) - Date.parse(task.completedAt)).toBeGreaterThan(
      14 * 86_400_000 - 60_000,
    );
    expect(Date.parse(video.providerUrlExpiresAt) - Date.parse(task.completedAt)).toBeLessThanOrEqual(14 * 86_400_000);
    expect((await download(video.url)).status).toBe(200);
  });
});
