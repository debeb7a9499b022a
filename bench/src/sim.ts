/**
 * The provider sandbox simulator in its own process (pinned with the load generators), as a
 * remote provider would be. Kling tasks turn 'processing' at once and stay there, so a callback
 * makes the refresh job read 'processing' and move a SUBMITTED task on.
 */
import { Agent, request } from 'node:http';
import { startSimulator } from '../../packages/providers/src/simulator/index.js';
import { SANDBOX_DIGITAL_HUMAN_API_KEY, SANDBOX_KIE_API_KEY, SANDBOX_KLING_API_KEY } from '../../apps/api/src/config.js';
import { serve } from './lib/ipc.js';
import { KLING_WEBHOOK_SECRET, seededId } from './lib/common.js';

const sim = await startSimulator({
  host: '127.0.0.1',
  // Signed as the API expects (it runs with KLING_WEBHOOK_SECRET): S4's creates' callbacks are applied, not refused.
  kling: { apiKey: SANDBOX_KLING_API_KEY, timing: { processingAfterMs: 0, succeedAfterMs: 24 * 3600_000 }, fetchInputs: false, webhookSecret: KLING_WEBHOOK_SECRET },
  kie: { apiKey: SANDBOX_KIE_API_KEY },
  digitalHuman: { apiKey: SANDBOX_DIGITAL_HUMAN_API_KEY },
});
const agent = new Agent({ keepAlive: true, maxSockets: 32 });

function post(path: string, body: unknown): Promise<any> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${sim.url}${path}`,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), authorization: `Bearer ${SANDBOX_KLING_API_KEY}` } },
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
            const r = await post('/v1/videos/avatar/image2video', { image: 'aGVsbG8=', audio_id: 'bench-audio', external_task_id: seededId(prefix, i) });
            if (r.code !== 0) throw new Error(`simulator create failed: ${JSON.stringify(r)}`);
            out[i - from] = r.data.task_id;
          }
        }),
      );
      return out;
    },
    createCount: () => sim.kling.createCount(),
  },
  () => sim.stop(),
);
process.send?.({ id: 0, result: 'ready' });
