import { type ChildProcess, spawn } from 'node:child_process';
import { waitFor } from './engine.js';

/**
 * Starts test/support/engine-child.ts — a real bot engine in its own process — with only
 * the environment given (plus PATH and HOME), and reads the JSON lines it prints.
 */
export interface EngineProcess {
  child: ChildProcess;
  /** Resolves with the first stdout JSON line that has `key`. */
  line(key: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  stderr(): string;
}

const ROOT = new URL('../../', import.meta.url).pathname;
const running = new Set<ChildProcess>();

export function spawnEngine(args: string[], env: Record<string, string>): EngineProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/engine-child.ts', ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    exited,
    stderr: () => err,
    line: (key, timeoutMs = 60_000) =>
      waitFor(
        () => out.split('\n').find((l) => l.includes(`"${key}"`)),
        timeoutMs,
        `child to print ${key} (stderr: ${err.slice(-800)})`,
      ).then((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** SIGKILLs every engine process still running (afterAll). */
export function killAllEngines(): void {
  for (const child of running) child.kill('SIGKILL');
}
