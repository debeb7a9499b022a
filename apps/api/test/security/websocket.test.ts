import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../support/stack.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(() => stack?.stop());

/** A raw graphql-transport-ws socket, so the test can misbehave as a client library never would. */
function open(): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${stack.url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket, timeoutMs = 6000): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('socket was not closed')), timeoutMs);
    ws.once('close', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

const init = (key: string) => JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${key}` } });

describe('WebSocket', () => {
  it('closes a socket that sends no connection_init in time with 4408', async () => {
    const ws = await open();
    expect(await closed(ws)).toBe(4408);
  });

  it('closes a socket with a wrong key with 4403', async () => {
    const ws = await open();
    ws.send(init('cw_sk_wrongwrongwrongwrongwrongwrongwrongwrong00'));
    expect(await closed(ws)).toBe(4403);
  });

  it('closes a socket that sends connection_init twice with 4429', async () => {
    const ws = await open();
    const acked = new Promise<void>((resolve) => ws.once('message', () => resolve()));
    ws.send(init(stack.apiKey));
    await acked;
    ws.send(init(stack.apiKey));
    expect(await closed(ws)).toBe(4429);
  });

  it('closes a socket that sends a 1 MiB frame', async () => {
    const ws = await open();
    ws.send(init(stack.apiKey));
    ws.send('x'.repeat(1024 * 1024));
    expect(await closed(ws)).toBe(1009); // message too big
  });

  it('closes the sockets of a key within seconds of its revocation (4403)', async () => {
    const { apiKey } = await stack.newTenant('ws-revoked');
    const ws = await open();
    const acked = new Promise<void>((resolve) => ws.once('message', () => resolve()));
    ws.send(init(apiKey));
    await acked;
    const started = Date.now();
    const res = await stack.gql(
      'mutation ($id: ID!) { revokeApiKey(id: $id) { revokedAt } }',
      { id: await keyId(apiKey) },
      apiKey,
    );
    expect(res.data?.revokeApiKey.revokedAt).toBeTruthy();
    expect(await closed(ws)).toBe(4403);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});

async function keyId(apiKey: string): Promise<string> {
  const res = await stack.gql('{ apiKeys { id prefix } }', {}, apiKey);
  const key = res.data!.apiKeys.find((k: { prefix: string }) => apiKey.startsWith(k.prefix));
  return key.id;
}
