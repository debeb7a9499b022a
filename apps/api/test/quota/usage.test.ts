import { randomUUID } from 'node:crypto';
import type { Provider, TaskKind, TaskOutput, TaskStatus } from '@clipwire/schema';
import { tasks } from '@clipwire/schema/tables';
import { sql } from 'drizzle-orm';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { csvField } from '../../src/http/usage-csv.js';
import { DEFAULT_COST_ESTIMATES } from '../../src/tasks/cost.js';
import { usage, type UsageRow } from '../../src/tasks/usage.js';
import { SAMPLE_INPUT, startStack, type Stack } from '../support/stack.js';

/*
 * usage(from, to, groupBy) and GET /usage.csv: tasks seeded through the database layer across UTC
 * days, providers, kinds and statuses, and the answers checked against sums computed here from the
 * same seed.
 */

interface Seed {
  kind: TaskKind;
  provider: Provider;
  status: TaskStatus;
  createdAt: string;
  /** Seconds from creation to its final status. */
  took?: number;
  cost?: string | null;
  estimate: number;
  submitAttempts?: number;
  output?: TaskOutput;
}

const video = (durationSeconds: number | null) => ({
  id: randomUUID(),
  url: 'https://x/v.mp4',
  watermarkUrl: null,
  durationSeconds,
});
const audio = (mp3: number | null, wav: number | null) => ({
  id: randomUUID(),
  mp3Url: 'https://x/a.mp3',
  wavUrl: 'https://x/a.wav',
  mp3DurationSeconds: mp3,
  wavDurationSeconds: wav,
});

const FROM = '2026-03-01T00:00:00.000Z';
const TO = '2026-03-03T00:00:00.000Z';

/** In [FROM, TO): what the usage must add up. */
const IN_RANGE: Seed[] = [
  {
    kind: 'AVATAR_VIDEO',
    provider: 'KLING',
    status: 'SUCCEEDED',
    createdAt: '2026-03-01T10:00:00Z',
    took: 100,
    cost: '5',
    estimate: 5,
    output: { videos: [video(8.5)], audios: [] },
  },
  {
    kind: 'AVATAR_VIDEO',
    provider: 'KLING',
    status: 'SUCCEEDED',
    createdAt: '2026-03-01T11:00:00Z',
    took: 300,
    cost: '10',
    estimate: 5,
    output: { videos: [video(12)], audios: [] },
  },
  // 23:30 UTC is still March 1st in UTC (and March 2nd in Tokyo, March 1st in New York).
  {
    kind: 'AVATAR_VIDEO',
    provider: 'KLING',
    status: 'FAILED',
    createdAt: '2026-03-01T23:30:00Z',
    took: 20,
    cost: '0',
    estimate: 5,
  },
  {
    kind: 'AVATAR_VIDEO',
    provider: 'KIE',
    status: 'SUCCEEDED',
    createdAt: '2026-03-01T12:00:00Z',
    took: 200,
    cost: null,
    estimate: 24,
    output: { videos: [video(null)], audios: [] },
  },
  {
    kind: 'VIDEO_SOUND',
    provider: 'KLING',
    status: 'SUCCEEDED',
    createdAt: '2026-03-02T00:30:00Z',
    took: 50,
    cost: '1',
    estimate: 1,
    output: { videos: [video(10)], audios: [audio(9.5, 9.6)] },
  },
  {
    kind: 'AVATAR_VIDEO',
    provider: 'DIGITAL_HUMAN',
    status: 'CANCELED',
    createdAt: '2026-03-02T05:00:00Z',
    took: 5,
    estimate: 1,
    submitAttempts: 1,
  },
  {
    kind: 'AVATAR_VIDEO',
    provider: 'DIGITAL_HUMAN',
    status: 'CANCELED',
    createdAt: '2026-03-02T06:00:00Z',
    took: 5,
    estimate: 1,
    submitAttempts: 0,
  },
  {
    kind: 'AVATAR_VIDEO',
    provider: 'KIE',
    status: 'PROCESSING',
    createdAt: '2026-03-02T07:00:00Z',
    estimate: 24,
    submitAttempts: 1,
  },
  {
    kind: 'AVATAR_VIDEO',
    provider: 'KLING',
    status: 'SUCCEEDED',
    createdAt: '2026-03-02T23:59:59.999Z',
    took: 60,
    cost: '5',
    estimate: 5,
    output: { videos: [video(5)], audios: [] },
  },
];
/** Just outside [FROM, TO). */
const OUT_OF_RANGE: Seed[] = [
  {
    kind: 'AVATAR_VIDEO',
    provider: 'KLING',
    status: 'SUCCEEDED',
    createdAt: '2026-02-28T23:59:59.999Z',
    took: 1,
    cost: '5',
    estimate: 5,
  },
  {
    kind: 'AVATAR_VIDEO',
    provider: 'KLING',
    status: 'SUCCEEDED',
    createdAt: '2026-03-03T00:00:00Z',
    took: 1,
    cost: '5',
    estimate: 5,
  },
];

const USAGE = /* GraphQL */ `
  query ($from: DateTime!, $to: DateTime!, $groupBy: [UsageDimension!]) {
    usage(from: $from, to: $to, groupBy: $groupBy) {
      day provider kind tasks succeeded failed canceled running costReported costEstimated
      mediaSeconds outputsWithoutDuration meanSecondsToComplete p95SecondsToComplete
    }
  }
`;

let stack: Stack;
let tenant: { tenantId: string; apiKey: string };

async function seed(tenantId: string, seeds: Seed[]) {
  await stack.app.db.db.insert(tasks).values(
    seeds.map((s) => {
      const createdAt = new Date(s.createdAt);
      return {
        id: randomUUID(),
        tenantId,
        kind: s.kind,
        provider: s.provider,
        model: 'seeded',
        status: s.status,
        input: {},
        output: s.output ?? { videos: [], audios: [] },
        cost: s.cost === undefined || s.cost === null ? null : { units: s.cost },
        costEstimate: String(s.estimate),
        submitAttempts: s.submitAttempts ?? 1,
        createdAt,
        completedAt: s.took === undefined ? null : new Date(createdAt.getTime() + s.took * 1000),
      };
    }),
  );
}

beforeAll(async () => {
  // The seeded days are in the past: no deadline may end the seeded running task meanwhile.
  const never = 1e12;
  stack = await startStack({ engine: { deadlineMs: { KLING: never, KIE: never, DIGITAL_HUMAN: never } } });
  tenant = await stack.newTenant('usage');
  await seed(tenant.tenantId, [...IN_RANGE, ...OUT_OF_RANGE]);
  // Another tenant's tasks in the same range count only for that tenant.
  const other = await stack.newTenant('usage-other');
  await seed(other.tenantId, IN_RANGE);
}, 60_000);
afterAll(() => stack?.stop());

/** percentile_cont: linear interpolation between the closest ranks. */
function percentileCont(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const pos = p * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** The same usage, computed here from the seed. */
function expected(seeds: Seed[], groupBy: ('DAY' | 'PROVIDER' | 'KIND')[]): UsageRow[] {
  const groups = new Map<string, Seed[]>();
  for (const s of seeds) {
    const key = JSON.stringify([
      groupBy.includes('DAY') ? new Date(s.createdAt).toISOString().slice(0, 10) : null,
      groupBy.includes('PROVIDER') ? s.provider : null,
      groupBy.includes('KIND') ? s.kind : null,
    ]);
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([key, group]) => {
      const [day, provider, kind] = JSON.parse(key) as [string | null, Provider | null, TaskKind | null];
      const done = group.filter((s) => s.status === 'SUCCEEDED').map((s) => s.took!);
      const charged = (s: Seed) =>
        ['PENDING', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED'].includes(s.status) ||
        (s.status === 'CANCELED' && (s.submitAttempts ?? 1) > 0);
      const outputs = group.flatMap((s) =>
        s.kind === 'VIDEO_SOUND'
          ? (s.output?.audios ?? []).map((a) => a.mp3DurationSeconds ?? a.wavDurationSeconds)
          : (s.output?.videos ?? []).map((v) => v.durationSeconds),
      );
      return {
        day,
        provider,
        kind,
        tasks: group.length,
        succeeded: group.filter((s) => s.status === 'SUCCEEDED').length,
        failed: group.filter((s) => s.status === 'FAILED').length,
        canceled: group.filter((s) => s.status === 'CANCELED').length,
        running: group.filter((s) => ['PENDING', 'SUBMITTED', 'PROCESSING'].includes(s.status)).length,
        costReported: group.reduce((n, s) => n + (s.cost ? Number(s.cost) : 0), 0),
        costEstimated: group.reduce((n, s) => n + (!s.cost && charged(s) ? s.estimate : 0), 0),
        mediaSeconds: outputs.reduce<number>((n, d) => n + (d ?? 0), 0),
        outputsWithoutDuration: outputs.filter((d) => d === null).length,
        meanSecondsToComplete: done.length ? done.reduce((a, b) => a + b, 0) / done.length : null,
        p95SecondsToComplete: percentileCont(done, 0.95),
      };
    });
}

/** Rows compared with floating-point sums rounded. */
function rounded(rows: UsageRow[]) {
  return rows.map((r) =>
    Object.fromEntries(Object.entries(r).map(([k, v]) => [k, typeof v === 'number' ? Math.round(v * 1e6) / 1e6 : v])),
  );
}

async function gqlUsage(groupBy: string[] | undefined, from = FROM, to = TO, key = tenant.apiKey) {
  return stack.gql(USAGE, { from, to, ...(groupBy ? { groupBy } : {}) }, key);
}

describe('usage', () => {
  for (const groupBy of [[], ['DAY'], ['PROVIDER'], ['KIND'], ['DAY', 'PROVIDER', 'KIND']] as const) {
    it(`sums the tasks created in [from, to), grouped by [${groupBy.join(', ')}]`, async () => {
      const res = await gqlUsage([...groupBy]);
      expect(res.errors).toBeUndefined();
      expect(rounded(res.data?.usage)).toEqual(rounded(expected(IN_RANGE, [...groupBy])));
    });
  }

  it('buckets days in UTC: a task at 23:30 UTC is in its UTC day, whatever the database session’s time zone', async () => {
    const byDay = (await gqlUsage(['DAY'])).data?.usage;
    expect(byDay.map((r: UsageRow) => [r.day, r.tasks])).toEqual([
      ['2026-03-01', 4],
      ['2026-03-02', 5],
    ]);
    // The same query in a session whose time zone is UTC+14 and one at UTC−10: the same buckets.
    for (const zone of ['Pacific/Kiritimati', 'Pacific/Honolulu']) {
      const rows = await stack.app.db.db.transaction(async (tx) => {
        await tx.execute(sql.raw(`set local time zone '${zone}'`));
        return usage(tx, tenant.tenantId, { from: new Date(FROM), to: new Date(TO), groupBy: ['DAY'] });
      });
      expect(rows).toEqual(byDay);
    }
    // A range given with an offset is the same instant: 09:00 in Tokyo is 00:00 UTC.
    const tokyo = await gqlUsage(['DAY'], '2026-03-01T09:00:00+09:00', '2026-03-03T09:00:00+09:00');
    expect(tokyo.data?.usage).toEqual(byDay);
  });

  it('refuses a range that ends before it starts, or spans more than 366 days, naming the argument', async () => {
    const backwards = await gqlUsage([], TO, FROM);
    expect(backwards.errors?.[0]).toMatchObject({
      message: 'to: must be after from',
      extensions: { code: 'BAD_USER_INPUT' },
    });
    const empty = await gqlUsage([], FROM, FROM);
    expect(empty.errors?.[0]?.message).toBe('to: must be after from');
    const long = await gqlUsage([], '2025-01-01T00:00:00Z', '2026-01-03T00:00:00Z');
    expect(long.errors?.[0]?.message).toBe('to: must be at most 366 days after from');
    expect((await gqlUsage([], '2025-01-01T00:00:00Z', '2026-01-02T00:00:00Z')).errors).toBeUndefined();
  });
});

describe('GET /usage.csv', () => {
  async function csv(query: string, key: string | null = tenant.apiKey) {
    const res = await request(`${stack.url}/usage.csv?${query}`, {
      headers: key ? { authorization: `Bearer ${key}` } : {},
    });
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() };
  }

  it('is the GraphQL answer as CSV, with a header row and a download name', async () => {
    const groupBy = ['DAY', 'PROVIDER', 'KIND'];
    const res = await csv(`from=${FROM}&to=${TO}&groupBy=${groupBy.join(',')}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toBe(
      'attachment; filename="usage-2026-03-01T00-00-00-000Z-2026-03-03T00-00-00-000Z.csv"',
    );
    const lines = res.body.split('\r\n');
    expect(lines.at(-1)).toBe('');
    expect(lines[0]).toBe(
      'day,provider,kind,tasks,succeeded,failed,canceled,running,cost_reported,cost_estimated,media_seconds,outputs_without_duration,mean_seconds_to_complete,p95_seconds_to_complete',
    );
    const rows: UsageRow[] = (await gqlUsage(groupBy)).data?.usage;
    expect(lines.slice(1, -1)).toEqual(rows.map((r) => Object.values(r).map(csvField).join(',')));
    // groupBy repeated instead of comma-separated: the same.
    expect((await csv(`from=${FROM}&to=${TO}&groupBy=DAY&groupBy=PROVIDER&groupBy=KIND`)).body).toBe(res.body);
  });

  it('needs an API key, and refuses bad parameters naming them', async () => {
    expect((await csv(`from=${FROM}&to=${TO}`, null)).status).toBe(401);
    expect((await csv(`from=${FROM}&to=${TO}`, 'cw_sk_not-a-key')).status).toBe(401);
    const bad = await csv(`from=yesterday&groupBy=WEEK`);
    expect(bad.status).toBe(400);
    expect(
      JSON.parse(bad.body)
        .errors.map((e: { path: string[] }) => e.path[0])
        .sort(),
    ).toEqual(['from', 'groupBy', 'to']);
    const backwards = await csv(`from=${TO}&to=${FROM}`);
    expect(backwards.status).toBe(400);
    expect(JSON.parse(backwards.body)).toEqual({ errors: [{ path: ['to'], message: 'must be after from' }] });
  });

  it('quotes fields as RFC 4180 says', () => {
    expect(['plain', 'a,b', 'say "hi"', 'two\nlines', null, 1.5].map(csvField)).toEqual([
      'plain',
      '"a,b"',
      '"say ""hi"""',
      '"two\nlines"',
      '',
      '1.5',
    ]);
  });
});

it('tasks made through the API count: their status, Kling’s reported cost and KIE’s estimate, their video seconds', async () => {
  const { apiKey } = await stack.newTenant('usage-live');
  const from = new Date(Date.now() - 60_000).toISOString();
  const made = [];
  for (const input of [SAMPLE_INPUT, { ...SAMPLE_INPUT, provider: 'KIE', prompt: 'a person speaking' }]) {
    const created = await stack.gql(
      'mutation ($input: CreateAvatarVideoInput!) { createAvatarVideo(input: $input) { __typename ... on Task { id } } }',
      { input },
      apiKey,
    );
    expect(created.data?.createAvatarVideo.__typename).toBe('Task');
    made.push(
      await stack.waitForFinal(
        created.data?.createAvatarVideo.id,
        'provider videos { durationSeconds } cost { units }',
        30_000,
        apiKey,
      ),
    );
  }
  const to = new Date(Date.now() + 60_000).toISOString();
  const rows = (await gqlUsage(['PROVIDER'], from, to, apiKey)).data!.usage;
  expect(rows.map((r: UsageRow) => r.provider)).toEqual(['KIE', 'KLING']);
  for (const task of made) {
    expect(task.status).toBe('SUCCEEDED');
    // Kling reports its units; KIE's recordInfo reports none, so its task costs its estimate.
    const reported = task.provider === 'KLING' ? Number(task.cost.units) : 0;
    if (task.provider === 'KLING') expect(reported).toBeGreaterThan(0);
    else expect(task.cost).toBeNull();
    const row = rows.find((r: UsageRow) => r.provider === task.provider);
    expect(row).toMatchObject({
      tasks: 1,
      succeeded: 1,
      costReported: reported,
      costEstimated: task.provider === 'KIE' ? DEFAULT_COST_ESTIMATES.KIE.AVATAR_VIDEO : 0,
      mediaSeconds: task.videos.reduce(
        (n: number, v: { durationSeconds: number | null }) => n + (v.durationSeconds ?? 0),
        0,
      ),
      outputsWithoutDuration: task.videos.filter((v: { durationSeconds: number | null }) => v.durationSeconds === null)
        .length,
    });
    expect(row.meanSecondsToComplete).toBeGreaterThan(0);
  }
}, 60_000);
