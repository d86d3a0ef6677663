import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { freePort } from '../test/support/net.js';
import { Inspector, inspectorUrlIn } from './inspector.js';
import type { MemorySample } from './memory.js';
import { waitUntil } from './stats.js';

/**
 * A server under test in its own process — the real bot (`src/main.ts`, as `npm start`
 * runs it) or the bare Bolt app — so its RSS is its own. Memory is read through its
 * inspector (inspector.ts) when started with `inspect`, else RSS from /proc/<pid>/status.
 */

export const ROOT = new URL('../', import.meta.url).pathname;

export interface ServerProcess {
  pid: number;
  port: number;
  eventsUrl: string;
  /** RSS and heap now (heap 0 without `inspect`). */
  memory(): Promise<MemorySample | undefined>;
  /** RSS and heap after a full GC (needs `inspect`). */
  retained(): Promise<MemorySample>;
  /** CPU time the process used so far (user + system), ms. */
  cpuMs(): number;
  output(): string;
  stop(): Promise<void>;
}

/**
 * Extra modules and environment for the servers' processes. The test suite runs the bench
 * on its fixed calendar and passes that calendar on, so the signed requests it sends are
 * fresh to the servers.
 */
export interface ServerLaunch {
  imports: string[];
  env: () => Record<string, string>;
  /**
   * Prepares a new embedded database folder before a process starts on it (the test suite
   * puts its migrated database there, sparing each process an initdb).
   */
  seedDataDir?: ((folder: string) => Promise<unknown>) | undefined;
}

export async function startServer(o: {
  entry: string;
  env: Record<string, string>;
  ready: string;
  timeoutMs?: number;
  /** Open the inspector on 127.0.0.1, for retained(). */
  inspect?: boolean;
  launch?: ServerLaunch | undefined;
}): Promise<ServerProcess> {
  const port = await freePort();
  const flags = o.inspect ? ['--inspect=127.0.0.1:0'] : [];
  // BENCH_CPU_PROF=<dir>: each server writes a V8 CPU profile there when it stops (for `--phases ack`).
  if (process.env.BENCH_CPU_PROF) flags.push('--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`);
  for (const module of o.launch?.imports ?? []) flags.push('--import', module);
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', ...flags, o.entry], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      NODE_ENV: 'production',
      ...o.launch?.env(),
      ...o.env,
      PORT: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let inspectorUrl: string | undefined;
  const keep = (d: Buffer) => {
    inspectorUrl ??= inspectorUrlIn(d.toString());
    // Keep the tail only: a long phase logs a lot.
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    child.on('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const up = await waitUntil(() => exited || out.includes(o.ready), o.timeoutMs ?? 90_000, 100);
  if (!up || exited) {
    child.kill('SIGKILL');
    throw new Error(`${o.entry} did not start:\n${out.slice(-3000)}`);
  }
  const pid = child.pid!;
  // Connected on first use, so the ack phase runs with no debugger session attached.
  let inspector: Promise<Inspector> | undefined;
  const inspect = () => {
    if (!inspectorUrl) return undefined;
    inspector ??= Inspector.connect(inspectorUrl);
    return inspector;
  };
  return {
    pid,
    port,
    eventsUrl: `http://127.0.0.1:${port}/slack/events`,
    async memory() {
      const session = inspect();
      if (session) return (await session).memory();
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        return { rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024, heapUsed: 0 };
      } catch {
        return undefined;
      }
    },
    cpuMs() {
      // /proc/<pid>/stat fields 14 and 15 (utime, stime), in clock ticks (100 a second on Linux).
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
    },
    async retained() {
      const session = inspect();
      if (!session) throw new Error(`${o.entry} runs without its inspector`);
      return (await session).retained();
    },
    output: () => out,
    async stop() {
      if (inspector) (await inspector).close();
      if (exited) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 25_000);
      await exit;
      clearTimeout(timer);
    },
  };
}
