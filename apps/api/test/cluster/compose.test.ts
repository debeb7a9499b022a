import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../src/config.js';
import { API_DIR, MAIN_ARGS } from '../support/main-process.js';

/*
 * docker-compose.yml and deploy/nginx.conf, checked as files (no Docker engine needed): the
 * services of a scaled-out install, their roles, health checks, and that every Clipwire process
 * would boot with the environment compose gives it (loadConfig on the interpolated values).
 */

const ROOT = join(import.meta.dirname, '..', '..', '..', '..');
const composeText = readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');
const nginxText = readFileSync(join(ROOT, 'deploy', 'nginx.conf'), 'utf8');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  restart?: string;
  environment?: Record<string, string | number | boolean | null> | string[];
  healthcheck?: { test?: string[] | string; disable?: boolean };
  depends_on?: Record<string, { condition?: string }> | string[];
  volumes?: string[];
  ports?: string[];
}
interface Compose {
  'x-clipwire': Service;
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
}

// `<<` merge keys (the x-clipwire anchor) are resolved as docker compose resolves them.
const compose = parse(composeText, { merge: true }) as Compose;
const services = compose.services;

/** A service's environment as a map (compose allows a list of KEY=VALUE as well). */
function envOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  const entries = Array.isArray(env)
    ? env.map((kv) => kv.split(/=(.*)/s).slice(0, 2) as [string, string])
    : Object.entries(env);
  return Object.fromEntries(entries.map(([k, v]) => [k, v == null ? '' : String(v)]));
}

/** Compose interpolation with an empty shell environment: `${VAR:-default}` / `${VAR-default}` give their default, `${VAR}` is empty. */
function interpolate(value: string): string {
  return value.replace(/\$\{(\w+)(?::?-([^}]*))?\}/g, (_, _name: string, fallback?: string) => fallback ?? '');
}

function effectiveEnv(service: Service): Record<string, string> {
  return Object.fromEntries(Object.entries(envOf(service)).map(([k, v]) => [k, interpolate(v)]));
}

function dependsOn(service: Service): Record<string, string | undefined> {
  const d = service.depends_on ?? {};
  return Array.isArray(d)
    ? Object.fromEntries(d.map((name) => [name, undefined]))
    : Object.fromEntries(Object.entries(d).map(([k, v]) => [k, v?.condition]));
}

const clipwireServices = Object.entries(services).filter(([, s]) => 'CLIPWIRE_ROLE' in envOf(s));
const byRole = (role: string) =>
  clipwireServices.filter(([, s]) => envOf(s).CLIPWIRE_ROLE === role).map(([name]) => name);
/** Services something waits on to have *completed*: one-shot jobs. */
const oneShots = new Set(
  Object.values(services).flatMap((s) =>
    Object.entries(dependsOn(s))
      .filter(([, c]) => c === 'service_completed_successfully')
      .map(([n]) => n),
  ),
);

// ---- a minimal nginx.conf parser: directives with arguments, and blocks ----
interface Directive {
  name: string;
  args: string[];
  block?: Directive[];
}

function parseNginx(text: string): Directive[] {
  const tokens = text.replace(/#[^\n]*/g, '').match(/'[^']*'|"[^"]*"|[{};]|[^\s{};]+/g) ?? [];
  let i = 0;
  const parseBlock = (): Directive[] => {
    const out: Directive[] = [];
    while (i < tokens.length) {
      if (tokens[i] === '}') {
        i++;
        return out;
      }
      const unquote = (t: string) => t.replace(/^(['"])(.*)\1$/, '$2');
      const name = unquote(tokens[i++]!);
      const args: string[] = [];
      while (i < tokens.length && tokens[i] !== ';' && tokens[i] !== '{') args.push(unquote(tokens[i++]!));
      if (tokens[i] === '{') {
        i++;
        out.push({ name, args, block: parseBlock() });
      } else {
        i++;
        out.push({ name, args });
      }
    }
    return out;
  };
  return parseBlock();
}

const find = (list: Directive[] | undefined, name: string) => (list ?? []).filter((d) => d.name === name);
const nginx = parseNginx(nginxText);
const http = find(nginx, 'http')[0]?.block;

describe('docker-compose.yml: a scaled-out Clipwire', () => {
  it('runs postgres:18 and redis:7', () => {
    expect(services.postgres?.image).toBe('postgres:18');
    expect(services.redis?.image).toBe('redis:7');
  });

  it('keeps media in MinIO: every Clipwire process that serves or works has its S3 settings and waits for the bucket', () => {
    const minio = effectiveEnv(services.minio!);
    const bucketJob = [services['minio-bucket']!.command ?? []].flat().join(' ');
    for (const name of [...byRole('api'), ...byRole('worker')]) {
      const env = effectiveEnv(services[name]!);
      const storage = loadConfig(env).storage;
      expect(storage.kind, name).toBe('s3');
      if (storage.kind !== 's3') continue;
      expect(new URL(storage.endpoint!).hostname, name).toBe('minio');
      expect([storage.accessKeyId, storage.secretAccessKey], name).toEqual([
        minio.MINIO_ROOT_USER,
        minio.MINIO_ROOT_PASSWORD,
      ]);
      expect(storage.forcePathStyle, name).toBe(true);
      // MinIO on the compose network is not reachable by providers: they get /media links.
      expect(storage.presign, name).toBeNull();
      expect(bucketJob).toContain(`local/${storage.bucket}`);
      expect(dependsOn(services[name]!)['minio-bucket'], name).toBe('service_completed_successfully');
    }
  });

  it('applies the migrations once, in a one-shot CLIPWIRE_ROLE=migrate service (restart "no") that the Clipwire processes wait for', () => {
    expect(byRole('migrate')).toEqual(['migrate']);
    const migrate = services.migrate!;
    expect(migrate.restart).toBe('no');
    expect(dependsOn(migrate).postgres).toBe('service_healthy');
    for (const name of [...byRole('api'), ...byRole('worker')]) {
      expect(dependsOn(services[name]!), name).toMatchObject({
        migrate: 'service_completed_successfully',
        postgres: 'service_healthy',
        redis: 'service_healthy',
      });
    }
  });

  it('runs two API instances and a worker (CLIPWIRE_ROLE api, api, worker)', () => {
    expect(byRole('api')).toEqual(['api1', 'api2']);
    expect(byRole('worker')).toEqual(['worker']);
    expect(clipwireServices.map(([name]) => name).sort()).toEqual(['api1', 'api2', 'migrate', 'worker']);
  });

  it('gives every long-running service a health check (the API ones on /readyz at their PORT)', () => {
    const longRunning = Object.keys(services).filter((name) => !oneShots.has(name));
    expect(oneShots).toEqual(new Set(['migrate', 'minio-bucket']));
    expect(longRunning.sort()).toEqual(['api1', 'api2', 'lb', 'minio', 'postgres', 'redis', 'simulator', 'worker']);
    for (const name of longRunning) {
      const check = services[name]!.healthcheck;
      expect(check?.test, `${name} has no healthcheck`).toBeTruthy();
      expect(check?.disable, name).not.toBe(true);
    }
    for (const name of [...byRole('api'), ...byRole('worker')]) {
      const test = [services[name]!.healthcheck!.test].flat().join(' ');
      expect(test, name).toContain(`http://127.0.0.1:${effectiveEnv(services[name]!).PORT}/readyz`);
    }
  });

  it('runs the app as PID 1 with the command the graceful-shutdown test runs (no pnpm in between to swallow SIGTERM)', () => {
    const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
    const last = (instruction: string) =>
      [...dockerfile.matchAll(new RegExp(`^${instruction}\\s+(.+)$`, 'gm'))].at(-1)?.[1];
    expect(JSON.parse(last('CMD')!)).toEqual(['node', ...MAIN_ARGS]);
    expect(join(ROOT, last('WORKDIR')!.replace(/^\/app\/?/, ''))).toBe(API_DIR);
    for (const [name, service] of clipwireServices) {
      if (service.command !== undefined) expect([service.command].flat(), name).toEqual(['node', ...MAIN_ARGS]);
    }
    // The simulator runs from the same image, compiled too.
    const simulator = [services.simulator!.command ?? []].flat();
    expect(simulator[0]).toBe('node');
    expect(existsSync(join(ROOT, simulator[1]!.replace(/^\/app\//, '')))).toBe(true);
  });

  it('uses only environment variables Clipwire knows (CONFIG_VARIABLES), in x-clipwire and in every service override', () => {
    const known = new Set(CONFIG_VARIABLES);
    const used = new Map<string, string[]>();
    const note = (where: string, service: Service) => {
      for (const name of Object.keys(envOf(service))) used.set(name, [...(used.get(name) ?? []), where]);
    };
    note('x-clipwire', compose['x-clipwire']);
    for (const [name, service] of clipwireServices) note(name, service);
    expect(used.size).toBeGreaterThan(10);
    expect(
      [...used].filter(([name]) => !known.has(name)).map(([name, where]) => `${name} (${where.join(', ')})`),
    ).toEqual([]);
    // The simulator's service is not Clipwire: its variables are the ones its entry point reads.
    const simulatorMain = readFileSync(join(ROOT, 'packages', 'providers', 'src', 'simulator', 'main.ts'), 'utf8');
    for (const name of Object.keys(envOf(services.simulator!)))
      expect(simulatorMain, name).toContain(`process.env.${name}`);
  });

  it('gives every Clipwire service a configuration that loads: DATABASE_URL is the postgres service with its credentials, REDIS_URL the redis service', () => {
    const pg = effectiveEnv(services.postgres!);
    const expectedDb = {
      protocol: 'postgres:',
      username: pg.POSTGRES_USER,
      password: pg.POSTGRES_PASSWORD,
      hostname: 'postgres',
      port: '5432',
      pathname: `/${pg.POSTGRES_DB}`,
    };
    for (const [name, service] of clipwireServices) {
      const env = effectiveEnv(service);
      const config = loadConfig(env); // throws ConfigError, listing every problem, if the process would not boot
      expect(config.role, name).toBe(env.CLIPWIRE_ROLE);
      expect(config.database.kind, name).toBe('postgres');
      const db = new URL(env.DATABASE_URL!);
      expect(
        {
          protocol: db.protocol,
          username: db.username,
          password: db.password,
          hostname: db.hostname,
          port: db.port || '5432',
          pathname: db.pathname,
        },
        name,
      ).toEqual(expectedDb);
      if (config.role === 'migrate') continue;
      const redis = new URL(env.REDIS_URL!);
      expect(redis.protocol, name).toBe('redis:');
      expect(redis.hostname, name).toBe('redis');
      expect(redis.port || '6379', name).toBe('6379');
      expect(config.env, name).toBe('production');
      // Live install settings shared by all instances: one media signing secret, one data volume.
      expect(config.mediaUrlSecret, name).toBe(effectiveEnv(compose['x-clipwire']).MEDIA_URL_SECRET);
      expect(service.volumes, name).toContain(`apidata:${config.dataDir}`);
    }
    expect(JSON.stringify(services.redis!.command ?? '')).not.toMatch(/--port/);
  });

  it('points every sandboxed provider at the simulator service, so no Clipwire process starts a simulator of its own', () => {
    const port = effectiveEnv(services.simulator!).SIMULATOR_PORT;
    expect(port).toBe('4010');
    for (const [name, service] of [...byRole('api'), ...byRole('worker')].map((n) => [n, services[n]!] as const)) {
      const config = loadConfig(effectiveEnv(service));
      for (const provider of [config.kling, config.kie, config.digitalHuman]) {
        expect(provider.mode, name).toBe('SANDBOX');
        expect(provider.baseUrl, name).toBe(`http://simulator:${port}`);
      }
    }
  });

  it('routes providers to the load balancer: PUBLIC_BASE_URL is the lb service on the port nginx listens on', () => {
    const listen = find(find(http, 'server')[0]?.block, 'listen')[0]?.args[0];
    for (const name of [...byRole('api'), ...byRole('worker')]) {
      const url = new URL(loadConfig(effectiveEnv(services[name]!)).publicBaseUrl!);
      expect(url.hostname, name).toBe('lb');
      expect(url.port || '80', name).toBe(listen);
    }
  });
});

describe('the load balancer (nginx, deploy/nginx.conf)', () => {
  it('is an nginx service with deploy/nginx.conf as its configuration, waiting for both API instances', () => {
    const lb = services.lb!;
    expect(lb.image).toMatch(/^nginx(:|$)/);
    expect(lb.volumes).toContainEqual(
      expect.stringMatching(/^\.\/deploy\/nginx\.conf:\/etc\/nginx\/nginx\.conf(:ro)?$/),
    );
    expect(dependsOn(lb)).toEqual({ api1: 'service_healthy', api2: 'service_healthy' });
  });

  it('upstreams both API instances, at the PORT they listen on, and nothing else', () => {
    const upstreams = find(http, 'upstream');
    expect(upstreams).toHaveLength(1);
    const servers = find(upstreams[0]!.block, 'server').map((d) => d.args[0]);
    const expected = byRole('api').map((name) => `${name}:${effectiveEnv(services[name]!).PORT}`);
    expect(servers.sort()).toEqual(expected.sort());
    const location = find(find(http, 'server')[0]?.block, 'location').find((l) => l.args[0] === '/');
    expect(find(location?.block, 'proxy_pass')[0]?.args).toEqual([`http://${upstreams[0]!.args[0]}`]);
  });

  it('passes WebSocket upgrades through (HTTP/1.1, Upgrade and Connection headers) and keeps subscriptions open', () => {
    const location = find(find(http, 'server')[0]?.block, 'location').find((l) => l.args[0] === '/')!;
    const headers = new Map(find(location.block, 'proxy_set_header').map((d) => [d.args[0]!.toLowerCase(), d.args[1]]));
    expect(find(location.block, 'proxy_http_version')[0]?.args).toEqual(['1.1']);
    expect(headers.get('upgrade')).toBe('$http_upgrade');
    const connection = headers.get('connection')!;
    if (connection !== 'upgrade') {
      // The usual map: "upgrade" when the client asked for one, "close" otherwise.
      const map = find(http, 'map').find((m) => m.args[0] === '$http_upgrade' && m.args[1] === connection);
      expect(map, `no map $http_upgrade ${connection}`).toBeTruthy();
      const entries = new Map(map!.block!.map((d) => [d.name, d.args[0]]));
      expect(entries.get('default')).toBe('upgrade');
      expect(entries.get('')).toBe('close');
    }
    // A subscription may be quiet for minutes: nginx's 60 s default read timeout would cut it.
    const seconds = (v: string | undefined): number => {
      if (v === undefined) return 60;
      const m = /^(\d+)(s|m|h)?$/.exec(v);
      if (!m) throw new Error(`unexpected proxy_read_timeout ${v}`);
      return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
    };
    expect(seconds(find(location.block, 'proxy_read_timeout')[0]?.args[0])).toBeGreaterThanOrEqual(600);
  });
});
