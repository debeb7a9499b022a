/**
 * The bare baseline for S2 and S3: node:http + a `ws` server, no GraphQL, no database.
 * - a socket registers a key with its first message; POST /push/<key> sends that socket one
 *   pre-serialized message (S2: raw POST → ws push);
 * - POST /broadcast?n=B sends B pre-serialized messages to every socket (S3: raw broadcast).
 * The messages have the shape and about the size of the API's graphql-ws `next` messages.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { serve } from './lib/ipc.js';

const byKey = new Map<string, WebSocket>();
const all = new Set<WebSocket>();
let seq = 0;

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://x');
  req.resume();
  req.on('end', () => {
    const push = /^\/push\/(.+)$/.exec(url.pathname);
    if (req.method === 'POST' && push) {
      const ws = byKey.get(push[1]!);
      // What taskUpdated sends: the task's id and status, in a graphql-ws next message.
      ws?.send(`{"id":"1","type":"next","payload":{"data":{"taskUpdated":{"id":"${push[1]}","status":"PROCESSING"}}}}`);
      res.writeHead(ws ? 200 : 404, { 'content-type': 'application/json' }).end('{"message":"accepted"}');
      return;
    }
    if (req.method === 'POST' && url.pathname === '/broadcast') {
      const n = Number(url.searchParams.get('n') ?? '1');
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"message":"ok"}');
      for (let i = 0; i < n; i++) {
        seq++;
        // Serialized once, sent to everyone: what taskEvents would send for one event.
        const payload = `{"id":"1","type":"next","payload":{"data":{"taskEvents":{"cursor":"${seq}","status":"PROCESSING","message":"KLING is generating","occurredAt":"${new Date().toISOString()}"}}}}`;
        for (const ws of all) ws.send(payload);
      }
      return;
    }
    res.writeHead(404).end();
  });
});
const wss = new WebSocketServer({ server, path: '/raw', maxPayload: 256 * 1024 });
wss.on('connection', (ws) => {
  all.add(ws);
  ws.once('message', (m) => {
    const key = String(m);
    byKey.set(key, ws);
    ws.send('{"type":"registered"}');
  });
  ws.on('close', () => all.delete(ws));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const { port } = server.address() as AddressInfo;

serve({ info: () => ({ url: `http://127.0.0.1:${port}`, pid: process.pid, sockets: all.size }) }, async () => {
  for (const ws of all) ws.terminate();
  wss.close();
  server.close();
});
process.send?.({ id: 0, result: 'ready' });
