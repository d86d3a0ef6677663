import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { Engine } from '../../src/engine/engine.js';
import { createOpenAIProvider } from '../../src/providers/openai.js';
import { settingsFor } from '../../src/providers/table.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createTestEngine, putWorkflow, step, waitFor } from '../support/engine.js';
import { type OpenAIStub, promptOf, startOpenAIStub } from '../support/openai-stub.js';
import { report, startRuns, tally, waitUntilSettled } from './figures.js';

/**
 * Hung connections: the provider accepts the request and never answers. The first call of
 * every step of the "flaky" workflow hangs (the retry answers); every call of the "dead"
 * model hangs. Per-call timeouts abort the hung calls: the flaky runs complete, the dead
 * ones pause with a timeout — none is held forever, none is lost.
 */

const FLAKY = 10;
const DEAD = 4;
// Long enough that a loaded CI machine answers a live call in time.
const TIMEOUT_MS = 1500;

let db: TestDatabase;
let stub: OpenAIStub;
let engine: Engine;
const seen = new Set<string>();

beforeAll(async () => {
  db = await createTestDatabase();
  stub = await startOpenAIStub((request) => {
    const prompt = promptOf(request);
    if (request.model === 'gpt-4o') return 'hang';
    if (!seen.has(prompt)) {
      seen.add(prompt);
      return 'hang';
    }
    return { text: `ok ${prompt}`, delayMs: 10 };
  });
});
afterAll(async () => {
  await engine?.stop(0);
  await stub.close();
  await db.close();
});

it('hung connections: calls time out and retry; runs complete or pause with a timeout, none held or lost', async () => {
  const t0 = performance.now();
  await putWorkflow(db, {
    name: 'flaky',
    provider: 'openai',
    model: 'gpt-4o-mini',
    steps: [step('one', 'one {{run.id}}'), step('two', 'two {{run.id}}')],
  });
  await putWorkflow(db, {
    name: 'dead',
    provider: 'openai',
    model: 'gpt-4o',
    steps: [step('one', 'dead {{run.id}}')],
  });
  engine = createTestEngine(
    db,
    [createOpenAIProvider(settingsFor('openai', { apiKey: 'sk-test-hang', baseUrl: stub.baseUrl }))],
    {
      clock: systemClock,
      stepTimeoutMs: TIMEOUT_MS,
      retry: { maxAttempts: 3, baseMs: 10, maxMs: 20 },
      concurrency: FLAKY + DEAD,
    },
  );
  await engine.start();
  const ids = [...(await startRuns(engine, 'flaky', FLAKY)), ...(await startRuns(engine, 'dead', DEAD))];
  await waitUntilSettled(db, ids, 40_000, 'every run to finish');
  // Duplicates here are steps with two successes. A call can also time out after the
  // provider sent its answer (a loaded machine reads it too late) and its retry be answered
  // again: paid twice, as with any timeout, but never unrecorded. Checked below instead.
  const figures = await tally(db, ids);
  const timeouts = await db.prisma.stepAttempt.count({ where: { runId: { in: ids }, errorKind: 'timeout' } });
  report('hung connections', figures, t0, `timeouts ${timeouts}`);

  expect(figures).toMatchObject({
    runs: FLAKY + DEAD,
    completed: FLAKY,
    paused: DEAD,
    duplicates: 0,
    lost: 0,
  });
  // Every flaky step's first call hung; on a loaded machine a live call may time out too.
  expect(timeouts).toBeGreaterThanOrEqual(FLAKY * 2 + DEAD * 3);
  const paused = await db.prisma.runStep.findMany({ where: { runId: { in: ids }, status: 'paused' } });
  expect(paused.map((s) => s.lastErrorKind)).toEqual(Array(DEAD).fill('timeout'));
  // Every answer the provider gave went to a call the engine recorded: a step's answers are
  // at most its recorded attempts less the first, hung, call; the dead model answered none.
  for (const [prompt, answers] of stub.answered) {
    const [, name, runId] = /^(one|two|dead) (\S+)$/.exec(prompt) ?? [];
    expect(name, prompt).not.toBe('dead');
    const attempts = await db.prisma.stepAttempt.count({ where: { runId, runStep: { name } } });
    expect(answers, prompt).toBeLessThanOrEqual(attempts - 1);
  }
  expect(stub.answered.size).toBe(FLAKY * 2);
  await waitFor(() => stub.inflight.size === 0, 2000, 'every hung request to be let go');
}, 60_000);
