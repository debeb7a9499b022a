import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { vi } from 'vitest';
import type { ResolvedAddress } from '../../src/media/safe-fetch.js';

export const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const fixture = (name: string): Buffer => readFileSync(FIXTURES + name);

/** Writes the 44-byte header of an 8 kHz mono 16-bit PCM WAV whose data is `pcmBytes` long at the start of `b`. */
export function writeWavHeader(b: Buffer, pcmBytes: number): Buffer {
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + pcmBytes, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(pcmBytes, 40);
  return b;
}

const LOOPBACK = new Set(['127.0.0.1', '::1']);

export interface ConnectAttempt {
  api: 'net' | 'tls';
  host: string | undefined;
  port: number | undefined;
  servername: string | undefined;
}

/**
 * Wraps net.connect / tls.connect (the ones undici calls) so that no test can ever open a socket to
 * anything but 127.0.0.1 / ::1: any other target is recorded and gets a socket that fails at once,
 * without touching the network.
 */
export function guardNetwork() {
  const attempts: ConnectAttempt[] = [];
  const origNet = net.connect;
  const origTls = tls.connect;
  const refuse = () => {
    const s = new net.Socket();
    process.nextTick(() => s.destroy(new Error('test network guard: non-loopback connection refused')));
    return s;
  };
  const wrap = (api: 'net' | 'tls', orig: (...a: never[]) => net.Socket) =>
    function (this: unknown, ...args: unknown[]) {
      const o = (typeof args[0] === 'object' && args[0] !== null ? args[0] : {}) as {
        host?: string;
        port?: number | string;
        servername?: string;
      };
      attempts.push({
        api,
        host: o.host,
        port: o.port === undefined ? undefined : Number(o.port),
        servername: o.servername,
      });
      if (o.host === undefined || !LOOPBACK.has(o.host)) return refuse();
      return (orig as (...a: unknown[]) => net.Socket).apply(this, args);
    };
  const netSpy = vi.spyOn(net, 'connect').mockImplementation(wrap('net', origNet as never) as never);
  const tlsSpy = vi.spyOn(tls, 'connect').mockImplementation(wrap('tls', origTls as never) as never);
  return {
    attempts,
    nonLoopback: () => attempts.filter((a) => a.host === undefined || !LOOPBACK.has(a.host)),
    restore: () => {
      netSpy.mockRestore();
      tlsSpy.mockRestore();
    },
  };
}

/** A plain TCP server on 127.0.0.1 and ::1 (same port) that only counts connections. */
export async function startCanary(): Promise<{ port: number; connections: () => number; close: () => Promise<void> }> {
  let count = 0;
  const servers: net.Server[] = [];
  const make = () => {
    const s = net.createServer((sock) => sock.destroy());
    s.on('connection', () => count++);
    return s;
  };
  const v4 = make();
  await new Promise<void>((res, rej) => v4.once('error', rej).listen(0, '127.0.0.1', () => res()));
  servers.push(v4);
  const port = (v4.address() as net.AddressInfo).port;
  const v6 = make();
  await new Promise<void>((res) => {
    v6.once('error', () => res()); // no IPv6 loopback on this host: the v4 canary still counts
    v6.listen(port, '::1', () => {
      servers.push(v6);
      res();
    });
  });
  return {
    port,
    connections: () => count,
    close: () => Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined),
  };
}

export async function listen(server: HttpServer): Promise<number> {
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  return (server.address() as net.AddressInfo).port;
}

export async function close(server: HttpServer): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((res) => server.close(() => res()));
}

/** Serves `body` honouring a `Range: bytes=a-b` header (206 + Content-Range). */
export function serveBytes(
  req: import('node:http').IncomingMessage,
  res: import('node:http').ServerResponse,
  body: Buffer,
  contentType: string,
  log?: { ranges: (string | undefined)[]; bytesSent: number },
): void {
  const range = req.headers.range;
  log?.ranges.push(range);
  const m = range ? /^bytes=(\d+)-(\d*)$/.exec(range) : null;
  if (m) {
    const start = Number(m[1]);
    const end = Math.min(m[2] ? Number(m[2]) : body.length - 1, body.length - 1);
    const part = body.subarray(start, end + 1);
    res.writeHead(206, {
      'content-type': contentType,
      'content-length': part.length,
      'content-range': `bytes ${start}-${end}/${body.length}`,
    });
    if (log) log.bytesSent += part.length;
    res.end(part);
    return;
  }
  res.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
  if (log) log.bytesSent += body.length;
  res.end(body);
}

/** Injected resolver: fixed answers, NXDOMAIN otherwise. Counts calls per name. */
export function fakeLookup(table: Record<string, string[]>) {
  const calls: string[] = [];
  const lookup = async (hostname: string): Promise<ResolvedAddress[]> => {
    calls.push(hostname);
    const answers = table[hostname];
    if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return answers.map((address) => ({ address, family: net.isIP(address) }));
  };
  return { lookup, calls };
}

export { createHttpServer };
