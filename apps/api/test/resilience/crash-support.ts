import { createServer as createHttpServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gql, MainProcess } from '../support/main-process.js';

/**
 * Support for the crash battery (crash.test.ts): the API as a real child process that can be
 * SIGKILLed and restarted on the same port and data, a loopback webhook receiver, and GraphQL over
 * HTTP that reports a dead server instead of throwing.
 */

export { childApiEnv, freePort, gql, type ChildExit, type GqlResult } from '../support/main-process.js';

/** One incarnation of the API (`new ApiChild(url, env, label)`): it can be SIGKILLed and started again on the same port. */
export class ApiChild extends MainProcess {
  constructor(url: string, env: Record<string, string>, label: string) {
    super(label, url, env);
  }
}

/** GraphQL that must answer: throws with the child's output on a transport failure or GraphQL errors. */
export async function gqlOk(
  child: ApiChild,
  apiKey: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Record<string, any>> {
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
        const body = JSON.parse(rawBody) as {
          data: { task: { id: string }; event: { cursor: string; status: string } };
        };
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
