/**
 * HTTP load: autocannon (throughput, fixed or open-loop rate) and a precise closed-loop latency
 * sampler (autocannon's histogram has 1 ms resolution, too coarse for millisecond pages).
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import { serve } from '../lib/ipc.js';
import { klingSignatureHeaders, summarize } from '../lib/common.js';

type Spec =
  | {
      kind: 'fixed';
      method: 'GET' | 'POST';
      path: string;
      headers?: Record<string, string>;
      body?: string;
      expect?: string;
    }
  | { kind: 'callbacks'; fresh: { path: string; body: string }[]; replay: number }
  | { kind: 'pages'; headers: Record<string, string>; bodies: string[]; expect?: string };

interface CannonArgs {
  url: string;
  connections: number;
  durationS: number;
  amount?: number;
  overallRate?: number;
  spec: Spec;
}

async function cannon(a: CannonArgs) {
  let ok = 0;
  let bad = 0;
  let fresh = 0;
  /** Fresh callbacks answered 200 (those still in flight when the run stopped may or may not have landed). */
  let freshAnswered = 0;
  let replays = 0;
  let badSample = '';
  const statuses: Record<string, number> = {};
  const sent: { path: string; body: string }[] = [];
  let nextFresh = 0;
  let page = 0;
  const spec = a.spec;
  const check = (status: number, body: string | undefined, expect?: string) => {
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status >= 200 && status < 300 && (!expect || (body ?? '').includes(expect))) ok++;
    else {
      bad++;
      if (!badSample) badSample = `${status} ${(body ?? '').slice(0, 300)}`;
    }
  };
  const requests: autocannon.Request[] =
    spec.kind === 'fixed'
      ? [
          {
            method: spec.method,
            path: spec.path,
            headers: spec.headers,
            body: spec.body,
            onResponse: (s: number, b: string) => check(s, b, spec.expect),
          } as any,
        ]
      : spec.kind === 'pages'
        ? [
            {
              method: 'POST',
              path: '/graphql',
              headers: spec.headers,
              setupRequest: (req: any) => ({ ...req, body: spec.bodies[page++ % spec.bodies.length] }),
              onResponse: (s: number, b: string) => check(s, b, spec.expect),
            } as any,
          ]
        : [
            {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              // One request at a time per connection: the context remembers whether it was a fresh one.
              setupRequest: (req: any, context: { fresh?: boolean }) => {
                let cb: { path: string; body: string };
                if ((sent.length > 0 && Math.random() < spec.replay) || nextFresh >= spec.fresh.length) {
                  cb = sent[Math.floor(Math.random() * sent.length)]!;
                  replays++;
                  context.fresh = false;
                } else {
                  cb = spec.fresh[nextFresh++]!;
                  sent.push(cb);
                  fresh++;
                  context.fresh = true;
                }
                return {
                  ...req,
                  path: cb.path,
                  body: cb.body,
                  headers: { ...req.headers, ...klingSignatureHeaders(cb.body) },
                };
              },
              onResponse: (s: number, b: string, context: { fresh?: boolean }) => {
                if (context.fresh && s === 200) freshAnswered++;
                check(s, b);
              },
            } as any,
          ];
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const result = await autocannon({
    url: a.url,
    connections: a.connections,
    duration: a.durationS,
    ...(a.amount ? { amount: a.amount } : {}),
    ...(a.overallRate ? { overallRate: a.overallRate } : {}),
    requests,
    timeout: 30,
  } as any);
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    okPerSec: ok / seconds,
    /** This load generator's own CPU over the run (ms), to show it was not the bottleneck. */
    loadCpuMs: (cpu.user + cpu.system) / 1000,
    ok,
    bad,
    badSample,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    fresh,
    freshAnswered,
    replays,
    latency: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  };
}

const agent = new Agent({ keepAlive: true, maxSockets: 64 });
function post(url: string, headers: Record<string, string>, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

serve(
  {
    cannon,
    /** Closed loop at `concurrency`, bounded by time: per-request latency with sub-millisecond resolution. */
    async latency(a: {
      url: string;
      headers: Record<string, string>;
      body: string;
      concurrency: number;
      durationMs: number;
      expect?: string;
    }) {
      const lat: number[] = [];
      let bad = 0;
      let badSample = '';
      const started = performance.now();
      const cpu0 = process.cpuUsage();
      const deadline = started + a.durationMs;
      await Promise.all(
        Array.from({ length: a.concurrency }, async () => {
          while (performance.now() < deadline) {
            const t0 = performance.now();
            const r = await post(a.url, a.headers, a.body);
            const ms = performance.now() - t0;
            if (r.status !== 200 || (a.expect && !r.text.includes(a.expect))) {
              bad++;
              badSample ||= `${r.status} ${r.text.slice(0, 300)}`;
            } else lat.push(ms);
          }
        }),
      );
      const cpu = process.cpuUsage(cpu0);
      return {
        latency: summarize(lat),
        perSec: lat.length / ((performance.now() - started) / 1000),
        bad,
        badSample,
        loadCpuMs: (cpu.user + cpu.system) / 1000,
      };
    },
  },
  async () => {
    agent.destroy();
  },
);
process.send?.({ id: 0, result: 'ready' });
