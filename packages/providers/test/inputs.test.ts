import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetchInput } from '../src/simulator/index.js';
import { startMediaServer, type MediaServer } from './helpers.js';

// Every URL here is on 127.0.0.1: the simulators never need the network.
let media: MediaServer;

beforeAll(async () => {
  media = await startMediaServer();
});
afterAll(async () => {
  await media.close();
});

describe('fetchInput', () => {
  it('GETs the URL and counts the body bytes, with status and content type', async () => {
    await expect(fetchInput(media.speechUrl)).resolves.toEqual({
      url: media.speechUrl,
      status: 200,
      bytes: media.size('speech.mp3'),
      contentType: 'audio/mpeg',
    });
  });

  it('a non-2xx answer is returned with its status, not thrown', async () => {
    await expect(fetchInput(media.statusUrl(403))).resolves.toMatchObject({ status: 403, contentType: 'text/plain' });
  });

  it('a body over maxBytes is an error', async () => {
    const r = await fetchInput(media.portraitUrl, { maxBytes: 100 });
    expect(r).toMatchObject({ status: 'error', error: 'larger than 100 bytes' });
    expect(r.bytes).toBeGreaterThan(100);
  });

  it('a response slower than timeoutMs is an error', async () => {
    const started = Date.now();
    await expect(fetchInput(media.slowPortraitUrl(1000), { timeoutMs: 100 })).resolves.toMatchObject({
      status: 'error',
      bytes: 0,
      error: 'timed out after 100 ms',
    });
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('a refused connection is an error', async () => {
    await expect(fetchInput('http://127.0.0.1:1/x.png')).resolves.toMatchObject({
      status: 'error',
      bytes: 0,
      contentType: null,
    });
  });

  it.each(['file:///etc/passwd', 'ftp://127.0.0.1/x', 'not a url'])('%s is refused without a request', async (url) => {
    const before = media.requests.length;
    await expect(fetchInput(url)).resolves.toMatchObject({ url, status: 'error', bytes: 0 });
    expect(media.requests).toHaveLength(before);
  });

  it('an abort signal ends the download as an error', async () => {
    const ac = new AbortController();
    const p = fetchInput(media.slowPortraitUrl(1000), { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    await expect(p).resolves.toMatchObject({ status: 'error', error: 'aborted' });
  });
});
