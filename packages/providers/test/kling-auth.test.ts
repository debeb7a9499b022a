import { decodeJwt, decodeProtectedHeader } from 'jose';
import { request, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KlingClient, ProviderError, createHttpDispatcher } from '../src/index.js';
import { signKlingJwt } from '../src/kling/index.js';
import { startSimulator, type Simulator } from '../src/simulator/index.js';
import { rejectionOf } from './helpers.js';

const accessKey = 'ak-sandbox';
const secretKey = 'sk-sandbox-secret';
const T0 = Date.UTC(2026, 0, 1);
/** The simulator's clock for JWT nbf/exp; each test sets it. */
let simClock = T0;
let sim: Simulator;
let dispatcher: Dispatcher;

beforeAll(async () => {
  // These tests are about auth: placeholder input URLs, not downloaded.
  sim = await startSimulator({
    kling: {
      accessKey,
      secretKey,
      now: () => simClock,
      timing: { processingAfterMs: 100, succeedAfterMs: 250 },
      fetchInputs: false,
    },
  });
  dispatcher = createHttpDispatcher();
});
afterAll(async () => {
  await sim.stop();
  await dispatcher.close();
});

/** A client whose JWT clock is the returned `clock.now` (ms). */
function jwtClient(secret = secretKey) {
  const clock = { now: T0 };
  const client = new KlingClient({
    baseUrl: sim.url,
    auth: { accessKey, secretKey: secret },
    dispatcher,
    now: () => clock.now,
  });
  return { client, clock };
}

describe('Kling AK/SK JWT auth', () => {
  it('signs the documented token: HS256/JWT header, iss = AccessKey, exp = now + 1800, nbf = now - 5', async () => {
    const { token, exp } = await signKlingJwt({ accessKey, secretKey, nowSeconds: 1_000_000 });
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'JWT' });
    expect(decodeJwt(token)).toEqual({ iss: accessKey, exp: 1_001_800, nbf: 999_995 });
    expect(exp).toBe(1_001_800);
  });

  it('a client with AK/SK is accepted by the simulator', async () => {
    simClock = T0;
    const { client } = jwtClient();
    const task = await client.createAvatarVideo({ image: 'https://a/img.png', audioId: 'aud-1' });
    expect(task.status).toBe('QUEUED');
  });

  it('a wrong secret is an auth error (1002), not retryable and not retried', async () => {
    simClock = T0;
    const { client } = jwtClient('not-the-secret');
    const before = sim.kling.requestCount();
    const err = await rejectionOf(client.listAvatarVideos());
    expect(err).toBeInstanceOf(ProviderError);
    expect(err).toMatchObject({ kind: 'auth', retryable: false, code: '1002', httpStatus: 401 });
    expect(sim.kling.requestCount() - before).toBe(1);
  });

  it('caches the token: two calls mint one token', async () => {
    simClock = T0;
    const { client } = jwtClient();
    await client.listAvatarVideos({ pageSize: 1 });
    await client.listAvatarVideos({ pageSize: 1 });
    expect(client.tokensMinted).toBe(1);
  });

  it('concurrent first calls share one signing', async () => {
    simClock = T0;
    const { client } = jwtClient();
    await Promise.all([
      client.listAvatarVideos({ pageSize: 1 }),
      client.listAvatarVideos({ pageSize: 1 }),
      client.listAvatarVideos({ pageSize: 1 }),
    ]);
    expect(client.tokensMinted).toBe(1);
  });

  it('re-mints ~5 min before expiry: after the clock jumps 1600 s a new token is minted and accepted', async () => {
    simClock = T0;
    const { client, clock } = jwtClient();
    await client.listAvatarVideos({ pageSize: 1 });
    clock.now = simClock = T0 + 1400_000; // still > 5 min before exp: cached
    await client.listAvatarVideos({ pageSize: 1 });
    expect(client.tokensMinted).toBe(1);
    clock.now = simClock = T0 + 1600_000; // inside the 5-min margin: re-mint
    await client.listAvatarVideos({ pageSize: 1 });
    expect(client.tokensMinted).toBe(2);
  });

  it('on 1004 (expired at the server) mints a new token and retries once, successfully', async () => {
    simClock = T0;
    const { client, clock } = jwtClient();
    await client.listAvatarVideos({ pageSize: 1 });
    clock.now = T0 + 1000_000; // the client still trusts its cached token…
    simClock = T0 + 2000_000; // …which the server's clock says expired
    const before = sim.kling.requestCount();
    await expect(client.listAvatarVideos({ pageSize: 1 })).resolves.toBeInstanceOf(Array);
    expect(client.tokensMinted).toBe(2);
    expect(sim.kling.requestCount() - before).toBe(2);
  });

  it('on a persistent 1003 (not yet valid) retries only once, then throws auth', async () => {
    simClock = T0;
    const { client, clock } = jwtClient();
    clock.now = T0 + 3600_000; // client clock an hour ahead: nbf is in the server's future
    const before = sim.kling.requestCount();
    const err = await rejectionOf(client.listAvatarVideos({ pageSize: 1 }));
    expect(err).toMatchObject({ kind: 'auth', code: '1003', retryable: false });
    expect(sim.kling.requestCount() - before).toBe(2);
    expect(client.tokensMinted).toBe(2);
  });

  it('a static key is never "refreshed": a wrong one fails after a single request', async () => {
    const client = new KlingClient({ baseUrl: sim.url, auth: { apiKey: 'wrong' }, dispatcher });
    const before = sim.kling.requestCount();
    await expect(client.listAvatarVideos()).rejects.toMatchObject({ kind: 'auth', code: '1002' });
    expect(sim.kling.requestCount() - before).toBe(1);
    expect(client.tokensMinted).toBe(0);
  });
});

describe('simulator auth answers (raw HTTP)', () => {
  const list = (headers: Record<string, string>) =>
    request(`${sim.url}/v1/videos/avatar/image2video`, { headers, dispatcher }).then(async (r) => ({
      status: r.statusCode,
      body: (await r.body.json()) as Record<string, unknown>,
    }));

  it('missing Authorization → 401 code 1001 in Kling envelope', async () => {
    const r = await list({});
    expect(r.status).toBe(401);
    expect(r.body).toMatchObject({ code: 1001, message: expect.any(String), request_id: expect.any(String) });
  });

  it('a non-Bearer Authorization header → 401 code 1002', async () => {
    const r = await list({ authorization: 'Basic c2FuZGJveA==' });
    expect(r.status).toBe(401);
    expect(r.body.code).toBe(1002);
  });

  it('expired JWT → 1004; not-yet-valid JWT → 1003; other issuer → 1002', async () => {
    simClock = T0;
    const nowSeconds = T0 / 1000;
    const expired = await signKlingJwt({ accessKey, secretKey, nowSeconds: nowSeconds - 3600 });
    const future = await signKlingJwt({ accessKey, secretKey, nowSeconds: nowSeconds + 600 });
    const otherIss = await signKlingJwt({ accessKey: 'someone-else', secretKey, nowSeconds });
    expect((await list({ authorization: `Bearer ${expired.token}` })).body.code).toBe(1004);
    expect((await list({ authorization: `Bearer ${future.token}` })).body.code).toBe(1003);
    expect((await list({ authorization: `Bearer ${otherIss.token}` })).body.code).toBe(1002);
  });

  it('success envelope is {code: 0, message: "SUCCEED", request_id, data}', async () => {
    const r = await list({ authorization: 'Bearer sandbox-kling-key' });
    expect(r.status).toBe(200);
    expect(Object.keys(r.body).sort()).toEqual(['code', 'data', 'message', 'request_id']);
    expect(r.body).toMatchObject({ code: 0, message: 'SUCCEED' });
  });
});
