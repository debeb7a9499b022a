import { spawn, type ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { request } from 'undici';

/**
 * Support for the crash battery (crash.test.ts): the API as a real child process that can be
 * SIGKILLed and restarted on the same port and data, a loopback webhook receiver, and GraphQL over
 * HTTP that reports a dead server instead of throwing.
 */

export const API_DIR = join(import.meta.dirname, '..', '..');

/**
 * A free loopback port, kept by the caller across restarts so provider callbacks keep working.
 * Taken below the kernel's ephemeral range (32768+), so that no outgoing connection can be given
 * it as its local port while the API is down between two incarnations.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const server = createNetServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!ok) continue;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    return port;
  }
  throw new Error('no free port found in 20000-31999');
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One incarnation of `node --import tsx src/main.ts`. */
export class ApiChild {
  readonly process: ChildProcess;
  readonly exited: Promise<ChildExit>;
  exit: ChildExit | undefined;
  private output = '';

  constructor(
    readonly url: string,
    env: Record<string, string>,
    readonly label: string,
  ) {
    this.process = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: API_DIR,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString('utf8')).slice(-200_000);
    };
    this.process.stdout!.on('data', keep);
    this.process.stderr!.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.process.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** The last lines the child printed, for failure messages. */
  logTail(chars = 4000): string {
    return `--- ${this.label} (pid ${this.process.pid}) output tail ---\n${this.output.slice(-chars)}`;
  }

  /** Polls GET /readyz until it answers 200; fails at once if the child exits first. */
  async ready(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (!this.alive) throw new Error(`${this.label} exited ${JSON.stringify(this.exit)} before it was ready\n${this.logTail()}`);
      try {
        const res = await request(`${this.url}/readyz`, { headersTimeout: 2000, bodyTimeout: 2000 });
        await res.body.dump();
        if (res.statusCode === 200) return;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${this.label} not ready within ${timeoutMs} ms\n${this.logTail()}`);
      await sleep(50);
    }
  }

  /** Waits for the exit, failing after timeoutMs (the child is left running for the caller to kill). */
  async waitExit(timeoutMs: number): Promise<ChildExit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${this.label} did not exit within ${timeoutMs} ms\n${this.logTail()}`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  signal(signal: NodeJS.Signals): void {
    if (this.alive && this.process.pid !== undefined) process.kill(this.process.pid, signal);
  }

  /** Cleanup fallback only. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.signal('SIGKILL');
    await this.exited;
  }
}

export type GqlResult =
  | { ok: true; status: number; data?: Record<string, any>; errors?: { message: string; extensions?: Record<string, unknown> }[] }
  /** No answer: the connection was refused or reset (the server died). */
  | { ok: false; error: string };

/** GraphQL over HTTP; a transport failure is a result, not an exception. */
export async function gql(url: string, apiKey: string, query: string, variables: Record<string, unknown> = {}, timeoutMs = 20_000): Promise<GqlResult> {
  try {
    const res = await request(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify({ query, variables }),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      // Each request on its own connection: a kept-alive socket of a dead process must not be reused.
      reset: true,
    });
    const text = await res.body.text();
    let body: Record<string, any>;
    try {
      body = JSON.parse(text) as Record<string, any>;
    } catch {
      return { ok: false, error: `HTTP ${res.statusCode} with a non-JSON body: ${text.slice(0, 200)}` };
    }
    return { ok: true, status: res.statusCode, ...body };
  } catch (error) {
    const e = error as { code?: string; message?: string };
    return { ok: false, error: `${e.code ?? 'error'}: ${e.message ?? String(error)}` };
  }
}

/** GraphQL that must answer: throws with the child's output on a transport failure or GraphQL errors. */
export async function gqlOk(child: ApiChild, apiKey: string, query: string, variables: Record<string, unknown> = {}): Promise<Record<string, any>> {
  const res = await gql(child.url, apiKey, query, variables);
  if (!res.ok) throw new Error(`${child.label} did not answer: ${res.error}\n${child.logTail()}`);
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

export interface WebhookDelivery {
  webhookId: string;
  timestamp: string;
  signature: string;
  rawBody: string;
  taskId: string;
  eventCursor: string;
  eventStatus: string;
  receivedAt: number;
}

export interface WebhookReceiver {
  url: string;
  origin: string;
  deliveries: WebhookDelivery[];
  stop(): Promise<void>;
}

/** A loopback partner endpoint that records every delivery (and answers 204). */
export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const deliveries: WebhookDelivery[] = [];
  const server: Server = createHttpServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8');
      try {
        const body = JSON.parse(rawBody) as { data: { task: { id: string }; event: { cursor: string; status: string } } };
        deliveries.push({
          webhookId: String(req.headers['webhook-id'] ?? ''),
          timestamp: String(req.headers['webhook-timestamp'] ?? ''),
          signature: String(req.headers['webhook-signature'] ?? ''),
          rawBody,
          taskId: body.data.task.id,
          eventCursor: body.data.event.cursor,
          eventStatus: body.data.event.status,
          receivedAt: Date.now(),
        });
        res.writeHead(204).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: `${origin}/hooks`,
    origin,
    deliveries,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs at most `n` of the functions given to it at a time (the tests of a file run concurrently). */
export function limiter(n: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const waiting: (() => void)[] = [];
  return async (fn) => {
    if (active >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      waiting.shift()?.();
    }
  };
}
