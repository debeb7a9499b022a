import { createHash } from 'node:crypto';
import { basename } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { simulatorMediaBytes } from '@clipwire/providers/simulator';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uuidOf } from '../support/ids.js';
import { startS3, type TestS3 } from '../support/s3.js';
import { CREATE_AVATAR, eventually, SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

/*
 * The archive on the S3 back end: the same copies, made through the AWS SDK into a real S3-protocol
 * server (s3rver, in this process), still served by Clipwire after the provider expired its links.
 */

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

let s3: TestS3;
let stack: Stack;
beforeAll(async () => {
  s3 = await startS3();
  stack = await startStack({ outputTtlSeconds: 10, env: s3.env });
});
afterAll(async () => {
  await stack?.stop();
  await s3?.stop();
});

describe('outputs archived (S3 store)', () => {
  it('copies each output to one object in the bucket under the task’s prefix, served after the provider expired its links', {
    timeout: 60_000,
  }, async () => {
    expect(stack.app.services.objects.kind).toBe('s3');
    const created = await stack.gql(CREATE_AVATAR, { input: { ...SAMPLE_INPUT, kling: { watermark: true } } });
    const id = created.data!.createAvatarVideo.id as string;
    const task = await eventually(
      async () => {
        const res = await stack.gql(
          `query ($id: ID!) { task(id: $id) { videos { url watermarkUrl providerUrl archiveStatus } } }`,
          { id },
        );
        const t = res.data?.task;
        return t?.videos?.[0]?.archiveStatus === 'ARCHIVED' ? t : null;
      },
      20_000,
      'the outputs archived',
    );
    const [video] = task.videos;

    // Exactly one object per output file, under outputs/{tenantId}/{taskId}/.
    const client = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.env.S3_ACCESS_KEY_ID!, secretAccessKey: s3.env.S3_SECRET_ACCESS_KEY! },
    });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'outputs/' }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!).sort();
    expect(keys).toHaveLength(2);
    expect(keys[0]).toMatch(new RegExp(`^outputs/[0-9a-f-]{36}/${uuidOf(id)}/video-0-watermarked\\.mp4$`));
    expect(keys[1]).toMatch(new RegExp(`^outputs/[0-9a-f-]{36}/${uuidOf(id)}/video-0\\.mp4$`));
    client.destroy();

    await eventually(
      async () => {
        const res = await request(video.providerUrl);
        await res.body.dump();
        return res.statusCode === 410;
      },
      20_000,
      'the simulator to expire the output',
    );
    const original = await simulatorMediaBytes(basename(new URL(video.providerUrl).pathname));
    const whole = await request(video.url);
    expect(whole.statusCode).toBe(200);
    expect(whole.headers['content-type']).toBe('video/mp4');
    expect(sha256(Buffer.from(await whole.body.arrayBuffer()))).toBe(sha256(original));
    const part = await request(video.url, { headers: { range: `bytes=-10` } });
    expect(part.statusCode).toBe(206);
    expect(part.headers['content-range']).toBe(
      `bytes ${original.length - 10}-${original.length - 1}/${original.length}`,
    );
    expect(Buffer.from(await part.body.arrayBuffer()).equals(original.subarray(-10))).toBe(true);
  });
});
