import { createReadStream, statSync } from 'node:fs';
import { connect, createServer, type Server, type Socket as NetSocket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fixturesDir } from '@clipwire/providers/simulator';
import {
  ClipwireError,
  createClipwire,
  type Clipwire,
  type FeedEvent,
  type Task,
  verifyWebhook,
} from '@clipwire/client';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, fixture, startStack, type Stack } from '../support/stack.js';
import {
  ENGINE_ONLY,
  NO_API_RATE_LIMIT,
  startReceiver,
  webhookHeaders,
  type WebhookReceiver,
} from '../resilience/resilience-support.js';

/*
 * @clipwire/client against the real API and the sandbox simulator over loopback: every method,
 * uploads from bytes, streams and Blobs, typed errors, the resumable feed across a dropped
 * connection, and webhooks the server really delivered, checked with verifyWebhook.
 */

let stack: Stack;
let receiver: WebhookReceiver;
let cw: Clipwire;
const PORTRAIT = join(fixturesDir, 'portrait-512x640.png');
const SPEECH = join(fixturesDir, 'speech-3s.mp3');

beforeAll(async () => {
  receiver = await startReceiver();
  stack = await startStack({
    // The client's calls against the engine; the output archive (its extra event and webhook after
    // SUCCEEDED) is tested in test/outputs/.
    env: { ...NO_API_RATE_LIMIT, ...ENGINE_ONLY, WEBHOOK_ALLOW_ORIGINS: receiver.origin },
    // KIE tasks stay GENERATING for ten minutes: what waitForTask's timeout is tested on.
    kie: { timing: { queuingAfterMs: 50, generatingAfterMs: 100, completeAfterMs: 600_000 } },
  });
  cw = createClipwire({ url: stack.url, apiKey: stack.apiKey });
});
afterAll(async () => {
  await cw?.close();
  await stack?.stop();
  await receiver?.stop();
});

/** The statuses of a task's timeline, oldest first, as the API keeps them. */
async function timeline(id: string): Promise<string[]> {
  const res = await stack.gql(
    'query ($id: ID!) { task(id: $id) { events(first: 50) { edges { node { status } } } } }',
    {
      id,
    },
  );
  return res.data!.task.events.edges.map((e: any) => e.node.status);
}

describe('@clipwire/client: creating tasks', () => {
  it('createAvatarVideo uploads Buffers (multipart), answers the typed Task, and waitForTask resolves on SUCCEEDED', async () => {
    const image = fixture('portrait-512x640.png');
    const audio = fixture('speech-3s.mp3');
    const task: Task = await cw.createAvatarVideo({ image: { file: image }, audio: { file: audio } });
    expect(task.kind).toBe('AVATAR_VIDEO');
    expect(task.provider).toBe('KLING');
    expect(['PENDING', 'SUBMITTED']).toContain(task.status);
    // The API received both files whole.
    expect(task.input).toMatchObject({
      image: { file: { size: image.length } },
      audio: { file: { size: audio.length } },
    });

    const done = await cw.waitForTask(task.id, { timeoutMs: 20_000 });
    expect(done.status).toBe('SUCCEEDED');
    expect(done.videos?.[0]?.url).toMatch(/^http/);
    expect(done.completedAt).not.toBeNull();
  });

  it('uploads from Node Readable streams and from Blobs, and takes a URL', async () => {
    const fromStreams = await cw.createAvatarVideo({
      image: { file: createReadStream(PORTRAIT) },
      audio: { file: createReadStream(SPEECH) },
    });
    expect(fromStreams.input).toMatchObject({
      image: { file: { size: statSync(PORTRAIT).size } },
      audio: { file: { size: statSync(SPEECH).size } },
    });

    const fromBlob = await cw.createAvatarVideo({
      image: { file: new File([fixture('portrait-512x640.png')], 'me.png', { type: 'image/png' }) },
      // A public URL: the simulator's origin is the one private address the sandbox may fetch.
      audio: { url: `${stack.sim.url}/media/kling/sound-sample.mp3` },
    });
    expect(fromBlob.input).toMatchObject({
      image: { file: { name: 'me.png', size: fixture('portrait-512x640.png').length, type: 'image/png' } },
      audio: { url: `${stack.sim.url}/media/kling/sound-sample.mp3` },
    });
    for (const t of [fromStreams, fromBlob])
      expect((await cw.waitForTask(t.id, { timeoutMs: 20_000 })).status).toBe('SUCCEEDED');
  });

  it('createVideoSound uploads a video and ends SUCCEEDED with the generated audio', async () => {
    const task = await cw.createVideoSound({ video: { file: fixture('clip-4s.mp4') }, soundEffectPrompt: 'rain' });
    expect(task.kind).toBe('VIDEO_SOUND');
    const done = await cw.waitForTask(task.id, { timeoutMs: 20_000 });
    expect(done.status).toBe('SUCCEEDED');
    expect(done.audios?.[0]?.mp3Url).toMatch(/^http/);
  });

  it('an error result is thrown as a typed ClipwireError, or answered as the typed union with returnErrors', async () => {
    const bad = { image: { file: fixture('small-200x200.png') }, audio: { file: fixture('speech-3s.mp3') } };
    const error = await cw.createAvatarVideo(bad).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClipwireError);
    const e = error as ClipwireError;
    expect(e.code).toBe('VALIDATION_ERROR');
    expect(e.result?.__typename).toBe('ValidationError');
    expect(e.issues.map((i) => i.path?.join('.'))).toContain('input.image');
    expect(e.message).toMatch(/image/);

    const union = await cw.createAvatarVideo(bad, { returnErrors: true });
    expect(union.__typename).toBe('ValidationError');
    if (union.__typename === 'ValidationError') expect(union.issues?.[0]?.path).toEqual(['input', 'image']);

    // The same externalTaskId with another input: the duplicate names the task that has it.
    const externalTaskId = `client-dup-${Date.now()}`;
    const first = await cw.createVideoSound({ videoId: 'v-1', externalTaskId });
    const dup = await cw.createVideoSound({ videoId: 'v-2', externalTaskId }).catch((x: ClipwireError) => x);
    expect(dup).toBeInstanceOf(ClipwireError);
    expect((dup as ClipwireError).code).toBe('DUPLICATE_EXTERNAL_TASK_ID');
    const result = (dup as ClipwireError).result;
    expect(result?.__typename === 'DuplicateExternalTaskId' && result.task?.id).toBe(first.id);
    // The same input again is the same task (idempotent create).
    expect((await cw.createVideoSound({ videoId: 'v-1', externalTaskId })).id).toBe(first.id);
  });
});

describe('@clipwire/client: reading tasks', () => {
  it('task(id), task({ externalTaskId }) and tasks() pages', async () => {
    const externalTaskId = `client-read-${Date.now()}`;
    const created = await cw.createVideoSound({ videoId: 'read-1', externalTaskId });
    for (const videoId of ['read-2', 'read-3']) await cw.createVideoSound({ videoId });
    expect((await cw.task(created.id))?.externalTaskId).toBe(externalTaskId);
    expect((await cw.task({ externalTaskId }))?.id).toBe(created.id);
    expect(await cw.task({ externalTaskId: 'no-such-task' })).toBeNull();

    const first = await cw.tasks({ first: 2, filter: { kinds: ['VIDEO_SOUND'] } });
    expect(first.tasks).toHaveLength(2);
    expect(first.tasks.every((t) => t.kind === 'VIDEO_SOUND')).toBe(true);
    expect(first.totalCount).toBeGreaterThanOrEqual(3);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const second = await cw.tasks({ first: 2, after: first.pageInfo.endCursor!, filter: { kinds: ['VIDEO_SOUND'] } });
    expect(second.tasks[0]?.id).not.toBe(first.tasks[1]?.id);
    expect(new Set([...first.tasks, ...second.tasks].map((t) => t.id)).size).toBe(
      first.tasks.length + second.tasks.length,
    );
  });

  it('watchTask yields each status once, in the order of the timeline, and ends at the terminal one', async () => {
    const task = await cw.createAvatarVideo({
      image: { file: fixture('portrait-512x640.png') },
      audio: { file: fixture('speech-3s.mp3') },
    });
    const seen: string[] = [];
    for await (const t of cw.watchTask(task.id)) seen.push(t.status!);
    expect(seen.at(-1)).toBe('SUCCEEDED');
    expect(new Set(seen).size).toBe(seen.length);
    // What it saw is the tail of the task's timeline, in order, from the state at subscription time.
    const all = await timeline(task.id);
    expect(all.slice(all.length - seen.length)).toEqual(seen);

    // A terminal task: its state once, then the end.
    const again: string[] = [];
    for await (const t of cw.watchTask(task.id)) again.push(t.status!);
    expect(again).toEqual(['SUCCEEDED']);
  });

  it('watchTask and waitForTask end with ABORTED when the caller aborts', async () => {
    const task = await cw.createAvatarVideo({
      provider: 'KIE',
      prompt: 'a person talking',
      image: { file: fixture('portrait-512x640.png') },
      audio: { file: fixture('speech-3s.mp3') },
    });
    const controller = new AbortController();
    const seen: string[] = [];
    const watching = (async () => {
      for await (const t of cw.watchTask(task.id, { signal: controller.signal })) {
        seen.push(t.status!);
        controller.abort();
      }
    })();
    await expect(watching).rejects.toMatchObject({ code: 'ABORTED' });
    expect(seen).toHaveLength(1);
    const waiting = cw.waitForTask(task.id, { signal: AbortSignal.abort() });
    await expect(waiting).rejects.toMatchObject({ code: 'ABORTED' });
    expect((await cw.cancelTask(task.id))?.status).toBe('CANCELED');
  });

  it('watchTask of an unknown task throws NOT_FOUND', async () => {
    const unknown = Buffer.from('Task:00000000-0000-4000-8000-000000000000').toString('base64');
    const iterate = async () => {
      for await (const _ of cw.watchTask(unknown)) expect.unreachable();
    };
    await expect(iterate()).rejects.toMatchObject({ name: 'ClipwireError', code: 'NOT_FOUND' });
  });

  it('waitForTask rejects with TIMEOUT when the task is not final in time, and leaves it running', async () => {
    const task = await cw.createAvatarVideo({
      provider: 'KIE',
      prompt: 'a person talking',
      image: { file: fixture('portrait-512x640.png') },
      audio: { file: fixture('speech-3s.mp3') },
    });
    const started = Date.now();
    const error = await cw.waitForTask(task.id, { timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ClipwireError);
    expect((error as ClipwireError).code).toBe('TIMEOUT');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_450);
    expect((error as ClipwireError).message).toContain(task.id);
    const now = await cw.task(task.id);
    expect(['PENDING', 'SUBMITTED', 'PROCESSING']).toContain(now?.status);
    expect((await cw.cancelTask(task.id))?.status).toBe('CANCELED');
  });
});

describe('@clipwire/client: errors', () => {
  it('a refused key is UNAUTHENTICATED over HTTP and WebSocket; no server is NETWORK; a bad cursor is GRAPHQL BAD_USER_INPUT', async () => {
    const wrong = createClipwire({ url: stack.url, apiKey: 'cw_wrong_key', retryAttempts: 0 });
    try {
      await expect(wrong.tasks()).rejects.toMatchObject({ code: 'UNAUTHENTICATED', status: 401 });
      const watch = async () => {
        for await (const _ of wrong.watchTask('x')) expect.unreachable();
      };
      await expect(watch()).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    } finally {
      await wrong.close();
    }

    const closed = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const { port } = s.address() as AddressInfo;
        s.close(() => resolve(port));
      });
    });
    const nowhere = createClipwire({ url: `http://127.0.0.1:${closed}`, apiKey: stack.apiKey });
    await expect(nowhere.task('x')).rejects.toMatchObject({ code: 'NETWORK' });

    const feed = async () => {
      for await (const _ of cw.taskEvents({ after: 'not-a-cursor' })) expect.unreachable();
    };
    await expect(feed()).rejects.toMatchObject({ code: 'GRAPHQL', graphqlCode: 'BAD_USER_INPUT' });
  });
});

/** A TCP proxy in front of the API that can cut every connection (a network drop). */
async function startCuttableProxy(
  target: string,
): Promise<{ url: string; connections: number; cut(): void; stop(): Promise<void> }> {
  const { hostname, port } = new URL(target);
  const open = new Set<NetSocket>();
  let connections = 0;
  const server: Server = createServer((client) => {
    connections++;
    const upstream = connect(Number(port), hostname);
    for (const s of [client, upstream]) {
      open.add(s);
      s.on('close', () => open.delete(s));
      s.on('error', () => {});
    }
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxyPort = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    get connections() {
      return connections;
    },
    cut: () => {
      for (const s of open) s.destroy();
    },
    stop: () => {
      for (const s of open) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

describe('@clipwire/client: the task event feed', () => {
  it('taskEvents yields every event after the cursor, each once and in order, across a dropped connection', async () => {
    const proxy = await startCuttableProxy(stack.url);
    const viaProxy = createClipwire({ url: proxy.url, apiKey: stack.apiKey });
    try {
      const start = await cw.latestTaskEventCursor();
      const received: FeedEvent[] = [];
      const feed = viaProxy.taskEvents({ after: start, filter: { kinds: ['AVATAR_VIDEO'] } });
      const input = () => ({
        image: { file: fixture('portrait-512x640.png') },
        audio: { file: fixture('speech-3s.mp3') },
      });

      const before = await cw.createAvatarVideo(input());
      // Read until the first task's first event, then cut the connection and create a second task
      // while the feed is away.
      const first = await feed.next();
      received.push(first.value as FeedEvent);
      const connectionsBefore = proxy.connections;
      proxy.cut();
      const after = await cw.createAvatarVideo(input());
      await cw.waitForTask(before.id, { timeoutMs: 20_000 });
      await cw.waitForTask(after.id, { timeoutMs: 20_000 });

      // Both tasks' events, from the feed, until both are seen SUCCEEDED.
      const done = new Set<string>();
      for await (const event of { [Symbol.asyncIterator]: () => feed }) {
        received.push(event);
        if (event.status === 'SUCCEEDED') done.add(event.task!.id);
        if (done.has(before.id) && done.has(after.id)) break;
      }
      expect(proxy.connections).toBeGreaterThan(connectionsBefore);

      const cursors = received.map((e) => Number(e.cursor));
      expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
      expect(new Set(cursors).size).toBe(cursors.length);
      expect(cursors[0]).toBeGreaterThan(Number(start ?? 0));
      // Exactly the events the API keeps for the two tasks.
      for (const task of [before, after]) {
        const statuses = received.filter((e) => e.task?.id === task.id).map((e) => e.status);
        expect(statuses).toEqual(await timeline(task.id));
      }
    } finally {
      await viaProxy.close();
      await proxy.stop();
    }
  });
});

describe('@clipwire/client: webhooks', () => {
  it('verifyWebhook accepts the deliveries the server signed, and refuses a forged one and an old one', async () => {
    const task = await cw.createAvatarVideo({
      image: { file: fixture('portrait-512x640.png') },
      audio: { file: fixture('speech-3s.mp3') },
      webhookUrl: receiver.url('/client'),
    });
    await cw.waitForTask(task.id, { timeoutMs: 20_000 });
    const deliveries = await eventually(async () => {
      const got = receiver.on('/client');
      return got.some((d) => d.json?.data?.event?.status === 'SUCCEEDED') ? got : null;
    });
    const { secret } = await cw.webhookSettings();
    expect(secret).toMatch(/^whsec_/);

    for (const d of deliveries) {
      // Node's req.headers as they came, and the raw body.
      const payload = verifyWebhook({ secret: secret!, headers: d.headers, body: d.raw });
      expect(payload.type).toBe('task.updated');
      expect(payload.data.task.id).toBe(task.id);
    }
    const last = deliveries.at(-1)!;
    // A fetch Headers object and a Uint8Array body work the same.
    const typed = verifyWebhook({
      secret: secret!,
      headers: new Headers(webhookHeaders(last)),
      body: new TextEncoder().encode(last.raw),
    });
    expect(typed.data.event.status).toBe('SUCCEEDED');

    const refused = (options: Parameters<typeof verifyWebhook>[0]) => {
      try {
        verifyWebhook(options);
      } catch (error) {
        return error as ClipwireError;
      }
      throw new Error('expected verifyWebhook to throw');
    };
    // Forged: another body under the real signature; the real body under another secret.
    const forgedBody = last.raw.replace('"SUCCEEDED"', '"FAILED"');
    expect(forgedBody).not.toBe(last.raw);
    expect(refused({ secret: secret!, headers: webhookHeaders(last), body: forgedBody })).toMatchObject({
      name: 'ClipwireError',
      code: 'WEBHOOK_INVALID_SIGNATURE',
    });
    const otherSecret = `whsec_${Buffer.from('x'.repeat(32)).toString('base64')}`;
    expect(refused({ secret: otherSecret, headers: webhookHeaders(last), body: last.raw }).code).toBe(
      'WEBHOOK_INVALID_SIGNATURE',
    );
    // Old: correctly signed with the real secret, ten minutes ago (a replay).
    const tenMinutesAgo = new Date(Date.now() - 10 * 60_000);
    const old = {
      'webhook-id': 'evt_replayed',
      'webhook-timestamp': String(Math.floor(tenMinutesAgo.getTime() / 1000)),
      'webhook-signature': new Webhook(secret!).sign('evt_replayed', tenMinutesAgo, last.raw),
    };
    expect(refused({ secret: secret!, headers: old, body: last.raw }).code).toBe('WEBHOOK_TIMESTAMP');
    // Missing headers.
    expect(refused({ secret: secret!, headers: {}, body: last.raw }).code).toBe('WEBHOOK_INVALID');
  });

  it('during a secret rotation a delivery carries two signatures, and verifyWebhook accepts it with either secret', async () => {
    const { secret: before } = await cw.webhookSettings();
    const rotated = await stack.gql(
      'mutation { rotateWebhookSecret(graceHours: 1) { ... on WebhookSettings { secret } } }',
    );
    const after = rotated.data!.rotateWebhookSecret.secret as string;
    expect(after).not.toBe(before);
    const task = await cw.createVideoSound({ videoId: 'rotation', webhookUrl: receiver.url('/rotation') });
    const delivery = await eventually(async () =>
      receiver.on('/rotation').find((d) => d.json?.data?.task?.id === task.id),
    );
    expect(String(delivery.headers['webhook-signature']).split(' ')).toHaveLength(2);
    for (const secret of [before!, after]) {
      expect(verifyWebhook({ secret, headers: delivery.headers, body: delivery.raw }).data.task.id).toBe(task.id);
    }
  });
});
