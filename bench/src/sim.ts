/**
 * The provider sandbox simulator in its own process (pinned with the load generators), as a
 * remote provider would be. Kling tasks turn 'processing' at once and stay there, so a callback
 * makes the refresh job read 'processing' and move a SUBMITTED task on. S4 turns the simulator's own
 * callbacks off (`klingMode`) and has it send exactly two per task itself (`klingCallbacks`).
 */
import { Agent, request } from 'node:http';
import { performance } from 'node:perf_hooks';
import { startSimulator } from '../../packages/providers/src/simulator/index.js';
import { SANDBOX_DIGITAL_HUMAN_API_KEY, SANDBOX_KIE_API_KEY, SANDBOX_KLING_API_KEY } from '@clipwire/api/config';
import { serve } from './lib/ipc.js';
import { KLING_WEBHOOK_SECRET, klingSignatureHeaders, seededId } from './lib/common.js';

const sim = await startSimulator({
  host: '127.0.0.1',
  // Signed as the API expects (it runs with KLING_WEBHOOK_SECRET): S4's creates' callbacks are applied, not refused.
  kling: {
    apiKey: SANDBOX_KLING_API_KEY,
    timing: { processingAfterMs: 0, succeedAfterMs: 24 * 3600_000 },
    fetchInputs: false,
    webhookSecret: KLING_WEBHOOK_SECRET,
  },
  kie: { apiKey: SANDBOX_KIE_API_KEY },
  digitalHuman: { apiKey: SANDBOX_DIGITAL_HUMAN_API_KEY },
});
const agent = new Agent({ keepAlive: true, maxSockets: 32 });

function post(path: string, body: unknown, method = 'POST'): Promise<any> {
  const data = method === 'GET' ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${sim.url}${path}`,
      {
        method,
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(data),
          authorization: `Bearer ${SANDBOX_KLING_API_KEY}`,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          try {
            resolve(JSON.parse(Buffer.concat(chunks).toString()));
          } catch (e) {
            reject(e);
          }
        });
      },
    );
    req.on('error', reject);
    req.end(data);
  });
}

const callbackAgent = new Agent({ keepAlive: true, maxSockets: 64 });
/** POSTs a callback; resolves to "<status> <body>" (the API answers {"message": …}). */
function send(url: string, body: string, headers: Record<string, string>): Promise<string> {
  return new Promise((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent: callbackAgent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve(`${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 120)}`));
      },
    );
    req.on('error', (e) => resolve(`error ${e.message}`));
    req.end(body);
  });
}

serve(
  {
    info: () => ({ url: sim.url, pid: process.pid }),
    /** Creates Kling avatar tasks whose external_task_id is seededId(prefix, i); returns Kling's task ids in order. */
    async createKling({ prefix, from, to }: { prefix: string; from: number; to: number }) {
      const out: string[] = new Array(to - from + 1);
      let next = from;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          while (next <= to) {
            const i = next++;
            const r = await post('/v1/videos/avatar/image2video', {
              image: 'aGVsbG8=',
              audio_id: 'bench-audio',
              external_task_id: seededId(prefix, i),
            });
            if (r.code !== 0) throw new Error(`simulator create failed: ${JSON.stringify(r)}`);
            out[i - from] = r.data.task_id;
          }
        }),
      );
      return out;
    },
    createCount: () => sim.kling.createCount(),
    /** The simulator's own Kling callbacks on or off, and the timing of Kling tasks created from now on. */
    klingMode(a: { callbacks: boolean; timing?: { processingAfterMs: number; succeedAfterMs: number } }) {
      sim.kling.setCallbacksEnabled(a.callbacks);
      if (a.timing) {
        sim.kling.setTiming(a.timing);
        sim.kling.setVideoToAudioTiming(a.timing);
      }
      return null;
    },
    /**
     * Kling's two callbacks of a task, 'processing' then 'succeed', sent by the simulator for the
     * tasks whose external_task_id is given (tasks the API created; the task must have succeeded
     * here: set timing { 0, 1 } before they are created). Each goes to the callback URL of the task's
     * create, signed like the simulator's own, one task after another per sender. Returns the API's
     * answers by status and message.
     */
    async klingCallbacks(a: {
      externalIds: string[];
      capability: 'avatar' | 'video_to_audio';
      concurrency: number;
      timeoutMs: number;
    }) {
      const path = a.capability === 'avatar' ? '/v1/videos/avatar/image2video' : '/v1/audio/video-to-audio';
      const answers: Record<string, number> = {};
      const deadline = Date.now() + a.timeoutMs;
      let next = 0;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: a.concurrency }, async () => {
          while (next < a.externalIds.length) {
            const id = a.externalIds[next++]!;
            const callbackUrl = sim.kling.lastCreateBody(id)?.callback_url;
            if (typeof callbackUrl !== 'string') throw new Error(`no Kling create with a callback_url for ${id}`);
            let snap: Record<string, unknown>;
            for (;;) {
              const r = await post(`${path}/${id}`, null, 'GET');
              if (r.code !== 0) throw new Error(`simulator get failed: ${JSON.stringify(r)}`);
              snap = r.data;
              if (snap.task_status === 'succeed') break;
              if (Date.now() > deadline)
                throw new Error(`Kling task ${id} is ${String(snap.task_status)}, not succeed`);
              await new Promise((r) => setTimeout(r, 20));
            }
            const { task_result: _r, final_unit_deduction: _f, ...rest } = snap;
            const processing = { ...rest, task_status: 'processing', updated_at: Number(snap.created_at) + 1 };
            for (const body of [processing, snap]) {
              const text = JSON.stringify(body);
              const answer = await send(callbackUrl, text, klingSignatureHeaders(text));
              answers[answer] = (answers[answer] ?? 0) + 1;
            }
          }
        }),
      );
      return { answers, seconds: (performance.now() - started) / 1000 };
    },
  },
  () => sim.stop(),
);
process.send?.({ id: 0, result: 'ready' });
