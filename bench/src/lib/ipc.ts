import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { performance } from 'node:perf_hooks';

/** A child process (optionally pinned to a core) that answers `call(cmd, args)` over the Node IPC channel. */
export interface Peer {
  proc: ChildProcess;
  /** Resolves when the child has said it is ready (its `serve` is listening). */
  ready: Promise<void>;
  call<T = any>(cmd: string, args?: unknown, timeoutMs?: number): Promise<T>;
  stop(): Promise<void>;
}

let tasksetOk: boolean | undefined;
/** taskset exists and there are at least two cores to keep apart. */
export function canPin(): boolean {
  if (tasksetOk === undefined) {
    const r = spawnSync('taskset', ['-c', '0', 'true']);
    const cores = Number(spawnSync('nproc').stdout?.toString().trim() || '1');
    tasksetOk = r.status === 0 && cores >= 2;
  }
  return tasksetOk;
}

export function spawnPeer(
  script: string,
  opts: { core?: number; env?: Record<string, string>; nodeArgs?: string[]; name: string },
): Peer {
  const node = [...(opts.nodeArgs ?? []), '--import', 'tsx', script];
  const [cmd, args] =
    opts.core !== undefined && canPin()
      ? ['taskset', ['-c', String(opts.core), process.execPath, ...node]]
      : [process.execPath, node];
  const proc = spawn(cmd as string, args as string[], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...opts.env },
  });
  let seq = 0;
  const pending = new Map<number, { resolve: (v: any) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  let readyResolve!: () => void;
  let readyReject!: (e: Error) => void;
  const ready = new Promise<void>((res, rej) => {
    readyResolve = res;
    readyReject = rej;
  });
  ready.catch(() => {});
  proc.on('message', (m: any) => {
    if (m.id === 0) return readyResolve();
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    clearTimeout(p.timer);
    if (m.error) p.reject(new Error(`${opts.name}: ${m.error}`));
    else p.resolve(m.result);
  });
  proc.on('exit', (code, signal) => {
    readyReject(new Error(`${opts.name} exited (${code ?? signal}) before it was ready`));
    for (const p of pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error(`${opts.name} exited (${code ?? signal})`));
    }
    pending.clear();
  });
  const peer: Peer = {
    proc,
    ready,
    call(cmd, args, timeoutMs = 600_000) {
      const id = ++seq;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${opts.name}: ${cmd} timed out after ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        proc.send({ id, cmd, args });
      });
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      try {
        await peer.call('stop', undefined, 30_000);
      } catch {
        /* it may exit before answering */
      }
      const exited = once(proc, 'exit');
      const kill = setTimeout(() => proc.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    },
  };
  return peer;
}

/** CPU time of a process so far, in milliseconds (user + system), and when it was read (epoch ms). */
export interface CpuReading {
  ms: number;
  at: number;
}

export function cpuNow(): CpuReading {
  const c = process.cpuUsage();
  return { ms: (c.user + c.system) / 1000, at: performance.timeOrigin + performance.now() };
}

/**
 * The child side: dispatch IPC requests to handlers; 'stop' runs `onStop` and exits. Every child also
 * answers 'cpu' (its own process.cpuUsage, as a CpuReading), so that run.ts can put the CPU each
 * process spent beside what it measured.
 */
export function serve(
  handlers: Record<string, (args: any) => unknown>,
  onStop: () => Promise<void> = async () => {},
): void {
  handlers = { cpu: cpuNow, ...handlers };
  process.on('message', async (m: any) => {
    if (m.cmd === 'stop') {
      try {
        await onStop();
      } finally {
        process.send?.({ id: m.id, result: null }, () => process.exit(0));
      }
      return;
    }
    const h = handlers[m.cmd];
    try {
      if (!h) throw new Error(`unknown command ${m.cmd}`);
      const result = await h(m.args);
      process.send?.({ id: m.id, result: result ?? null });
    } catch (error) {
      process.send?.({ id: m.id, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
  process.on('disconnect', () => void onStop().finally(() => process.exit(0)));
}
