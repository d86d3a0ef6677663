import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { build } from 'esbuild';
import { TEST_DATE_IMPORT, testChildEnv } from './clock.js';
import { waitFor } from './engine.js';

/**
 * Bot processes that tests start, kill and restart. Each child entry is bundled once per
 * `npm test` (vitest's globalSetup calls `buildChildren`), so a child starts on plain
 * JavaScript: no TypeScript to compile while the machine is busy. Packages stay external
 * and load from node_modules as in the bot.
 *
 * Bounds are generous and wait on what the child says (a JSON line on stdout), never on a
 * fixed sleep: a child starting on a loaded two-core machine may take a minute or more.
 */

export const ROOT = new URL('../../', import.meta.url).pathname;
/** Two levels below the root, as src/db/migrate.ts is, so its `../../prisma/migrations` resolves. */
const OUT_DIR = join(ROOT, 'test/.build');

/** Each child, and whether it runs on the suite's calendar (test-date.mjs, loaded before anything else). */
const ENTRIES = {
  'engine-child': { path: 'test/support/engine-child.ts', calendar: true },
  // Runs a virtual clock of its own, anchored on the machine's clock (see the file).
  'scheduler-child': { path: 'test/schedules/scheduler-child.ts', calendar: false },
} as const;
export type ChildEntry = keyof typeof ENTRIES;

/**
 * How long a child may take to print a line it was asked for (its start included): bounded
 * only to end a hung test, never to judge speed.
 */
export const CHILD_LINE_BOUND_MS = 5 * 60_000;
/** A test that starts children and waits on several of them in turn. */
export const TEST_BOUND_MS = 15 * 60_000;

export async function buildChildren(): Promise<void> {
  await build({
    entryPoints: Object.fromEntries(Object.entries(ENTRIES).map(([name, e]) => [name, join(ROOT, e.path)])),
    outdir: OUT_DIR,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node22',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}

export interface TestChild {
  child: ChildProcess;
  /** Every JSON line printed so far. */
  lines: Record<string, unknown>[];
  /** Resolves with the first JSON line that has `key` (waits up to CHILD_LINE_BOUND_MS). */
  line(key: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<number | null>;
  stderr(): string;
}

const running = new Set<ChildProcess>();

/**
 * Starts a bundled child with only the environment given (plus PATH, HOME and the suite's
 * calendar, so parent and child agree on the time).
 */
export function spawnChild(entry: ChildEntry, args: string[], env: Record<string, string>): TestChild {
  const calendar = ENTRIES[entry].calendar ? ['--import', TEST_DATE_IMPORT] : [];
  const child = spawn(process.execPath, [...calendar, join(OUT_DIR, `${entry}.mjs`), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...testChildEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  const lines: Record<string, unknown>[] = [];
  let buffer = '';
  let err = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    for (const part of parts) {
      if (!part.trim()) continue;
      try {
        lines.push(JSON.parse(part) as Record<string, unknown>);
      } catch {
        err += `(not JSON on stdout) ${part}\n`;
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      running.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    lines,
    exited,
    stderr: () => err,
    line: (key, timeoutMs = CHILD_LINE_BOUND_MS) =>
      waitFor(
        () => lines.find((l) => key in l),
        timeoutMs,
        `${entry} to print ${key} (stderr: ${err.slice(-800)})`,
      ),
  };
}

/** SIGKILLs every child still running (afterAll). */
export function killAllChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}
