import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine/engine.js';
import { InProcessQueue } from '../../src/engine/queue.js';
import { createLogger } from '../../src/logging.js';
import { TestClock } from '../support/clock.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  fail,
  providerSource,
  putWorkflow,
  ScriptedProvider,
  step,
  testCatalogue,
  waitForRun,
} from '../support/engine.js';

let db: TestDatabase;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await db.close();
});

describe('logs', () => {
  it('are JSON lines carrying the run and step ids of the step they are about', async () => {
    const lines: string[] = [];
    const logger = createLogger({
      level: 'info',
      secrets: ['sk-live-do-not-log-me'],
      destination: { write: (line) => lines.push(line) },
    });
    const openai = new ScriptedProvider('openai', () => {
      throw fail({ kind: 'auth', provider: 'openai', status: 401, message: 'bad key sk-live-do-not-log-me' });
    });
    const engine = new Engine({
      db,
      config: {
        defaults: { provider: undefined, model: undefined },
        retry: { maxAttempts: 1, baseMs: 0, maxMs: 0 },
        stepTimeoutMs: 5000,
        worker: { concurrency: 1, leaseMs: 30_000 },
      },
      providers: providerSource(openai),
      catalogue: testCatalogue(['openai']),
      logger,
      clock: new TestClock({ realTime: true, sleeps: 'skip' }),
      queue: new InProcessQueue(),
    });
    await putWorkflow(db, {
      name: 'logged',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [step('s', 'p')],
    });
    await engine.start();
    try {
      const run = await engine.runs.startRun({
        workflow: 'logged',
        input: '',
        startedBy: 'U1',
        trigger: 'slash',
      });
      await waitForRun(db, run.id, ['paused']);
      const stepRow = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });

      const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      const paused = entries.find((e) => e.msg === 'step paused after failure');
      expect(paused).toMatchObject({ level: 40, runId: run.id, stepId: stepRow.id, kind: 'auth' });
      expect(typeof paused?.time).toBe('number');
      expect(lines.join('')).not.toContain('sk-live-do-not-log-me');
    } finally {
      await engine.stop(0);
    }
  });
});

describe('runtime dependencies', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };

  it('include pino-pretty, which the logger loads in development', () => {
    expect(readFileSync('src/logging.ts', 'utf8')).toContain("target: 'pino-pretty'");
    expect(pkg.dependencies['pino-pretty']).toBeDefined();
    expect(pkg.devDependencies['pino-pretty']).toBeUndefined();
  });

  // The image installs production dependencies only (npm ci --omit=dev): a package that
  // src/ imports at run time from devDependencies would crash the container at start.
  it('include every package src/ imports at run time', () => {
    const missing = new Set<string>();
    for (const file of sourceFiles('src')) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(
        /^\s*(?:import|export)\s+(?!type\b)(?:[^'"]*?\sfrom\s+)?['"]([^'"]+)['"]/gm,
      )) {
        const spec = m[1] as string;
        if (spec.startsWith('.') || spec.startsWith('node:')) continue;
        const name = spec.startsWith('@')
          ? spec.split('/').slice(0, 2).join('/')
          : (spec.split('/')[0] as string);
        if (!pkg.dependencies[name]) missing.add(`${name} (${file})`);
      }
    }
    expect([...missing]).toEqual([]);
  });
});

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return path === join('src', 'db', 'generated') ? [] : sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}
