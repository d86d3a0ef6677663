import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { Engine } from '../../src/engine/engine.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { createOpenAIProvider } from '../../src/providers/openai.js';
import { settingsFor } from '../../src/providers/table.js';
import { createTestDatabase, storesOf, type TestDatabase } from '../support/db.js';
import { createTestEngine, putWorkflow, step } from '../support/engine.js';
import { type OpenAIStub, promptOf, startOpenAIStub } from '../support/openai-stub.js';
import { report, startRuns, tally, waitUntilSettled } from './figures.js';

/**
 * A 429 storm: many runs at once, the provider answers its first 60 requests with 429 and
 * `retry-after-ms`, then recovers. Every call waits at least what the provider asked, the circuit
 * opens (there is no fallback, so calls go on per the retry policy), and every run ends
 * completed — nothing lost, nothing answered twice.
 */

const RUNS = 20;
const RETRY_AFTER_MS = 300;
/** The storm lasts for this many requests (a count, so a slow machine sees the same storm). */
const STORM_REQUESTS = RUNS * 3;

let db: TestDatabase;
let stub: OpenAIStub;
let engine: Engine;
let storm = 0;

beforeAll(async () => {
  db = await createTestDatabase();
  stub = await startOpenAIStub((request) => {
    if (storm < STORM_REQUESTS) {
      storm += 1;
      return {
        status: 429,
        headers: { 'retry-after-ms': String(RETRY_AFTER_MS) },
        body: {
          error: {
            message: 'Rate limit reached for gpt-4o-mini on requests per min (RPM)',
            type: 'requests',
            code: 'rate_limit_exceeded',
          },
        },
      };
    }
    return { text: `ok ${promptOf(request)}`, delayMs: 20 };
  });
});
afterAll(async () => {
  await engine?.stop(0);
  await stub.close();
  await db.close();
});

it('429 storm: every run completes, Retry-After is honoured, nothing is lost or duplicated', async () => {
  const t0 = performance.now();
  await putWorkflow(db, {
    name: 'storm',
    provider: 'openai',
    model: 'gpt-4o-mini',
    steps: [step('one', 'one {{run.id}}'), step('two', 'two {{run.id}} {{previous.output}}')],
  });
  const health = new HealthMonitor({
    calls: storesOf(db).runs,
    settings: { failureThreshold: 5, window: 6, windowMs: 60_000, cooldownMs: 500 },
    syncMs: 0,
  });
  engine = createTestEngine(
    db,
    [createOpenAIProvider(settingsFor('openai', { apiKey: 'sk-test-storm', baseUrl: stub.baseUrl }))],
    {
      clock: systemClock,
      health,
      random: Math.random,
      jitter: 0.5,
      deadlineMs: 30_000,
      retry: { maxAttempts: 20, baseMs: 50, maxMs: 400 },
      concurrency: RUNS,
    },
  );
  await engine.start();
  const ids = await startRuns(engine, 'storm', RUNS);
  await waitUntilSettled(db, ids, 40_000, 'every run to finish');

  const figures = await tally(db, ids, [stub.answered]);
  const attempts = await db.prisma.stepAttempt.findMany({
    where: { runId: { in: ids }, outcome: { not: 'skipped' } },
    orderBy: [{ runStepId: 'asc' }, { number: 'asc' }],
  });
  const rateLimited = attempts.filter((a) => a.errorKind === 'rate_limit').length;
  // No call came sooner than the provider asked after a 429 for the same step.
  let shortest = Number.POSITIVE_INFINITY;
  for (let i = 1; i < attempts.length; i++) {
    const [prev, next] = [attempts[i - 1]!, attempts[i]!];
    if (prev.runStepId !== next.runStepId || prev.errorKind !== 'rate_limit') continue;
    shortest = Math.min(shortest, next.startedAt.getTime() - prev.finishedAt.getTime());
  }
  report('429 storm', figures, t0, `429s ${rateLimited}, shortest wait after a 429 ${shortest} ms`);

  expect(rateLimited).toBe(STORM_REQUESTS);
  expect(shortest).toBeGreaterThanOrEqual(RETRY_AFTER_MS - 5);
  expect(figures).toMatchObject({ runs: RUNS, completed: RUNS, lost: 0, duplicates: 0 });
  expect(stub.overlaps).toEqual([]);
}, 60_000);
