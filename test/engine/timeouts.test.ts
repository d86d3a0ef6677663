import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { Provider } from '../../src/core/provider-spec.js';
import type { Engine } from '../../src/engine/engine.js';
import { createOpenAIProvider } from '../../src/providers/openai.js';
import { settingsFor } from '../../src/providers/table.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import {
  createTestEngine,
  putWorkflow,
  ScriptedProvider,
  startApiRun,
  step,
  waitFor,
  waitForRun,
} from '../support/engine.js';
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js';

/**
 * A provider that never answers must not hold a run: the step's timeout aborts the call
 * (AbortSignal through the real SDK), the attempt is recorded as a retryable timeout, and
 * the chain moves on or the step pauses.
 */

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
let stub: OpenAIStub;
let engine: Engine | undefined;
let openai: Provider;

beforeAll(async () => {
  stub = await startOpenAIStub((request) => (request.model === 'gpt-4o' ? 'hang' : { text: 'answered' }));
  openai = createOpenAIProvider(settingsFor('openai', { apiKey: 'sk-test-timeouts', baseUrl: stub.baseUrl }));
});
afterAll(async () => {
  await stub.close();
});
beforeEach(async () => {
  stub.requests.length = 0;
});
afterEach(async () => {
  await engine?.stop(0);
  engine = undefined;
});

async function run(name: string, providers: Provider[], stepTimeoutMs: number) {
  engine = createTestEngine(db, providers, {
    clock: systemClock,
    stepTimeoutMs,
    retry: { maxAttempts: 2, baseMs: 10, maxMs: 10 },
  });
  await engine.start();
  return startApiRun(engine, name);
}

describe('a hung connection', () => {
  it('times out each call, retries, then falls back: the run completes', async () => {
    await putWorkflow(db, {
      name: 'hang-then-fallback',
      steps: [
        step('s', 'p', {
          provider: 'openai',
          model: 'gpt-4o',
          fallbacks: [{ provider: 'openai', model: 'gpt-4o-mini' }],
        }),
      ],
    });
    // Long enough for a loaded machine to answer the live call in time. Without the
    // timeout the hung call would hold the run past waitForRun's bound.
    const r = await run('hang-then-fallback', [openai], 2000);
    await waitForRun(db, r.id, ['completed'], 20_000);
    const attempts = await db.prisma.stepAttempt.findMany({
      where: { runId: r.id },
      orderBy: { number: 'asc' },
    });
    expect(attempts.map((a) => [a.model, a.outcome, a.errorKind])).toEqual([
      ['gpt-4o', 'error', 'timeout'],
      ['gpt-4o', 'error', 'timeout'],
      ['gpt-4o-mini', 'success', null],
    ]);
    expect(attempts[0]!.latencyMs).toBeGreaterThanOrEqual(1990);
    // The SDK call was aborted: the stub saw the client go away, nothing is left in flight.
    expect(stub.inflight.size).toBe(0);
  });

  it('pauses the step with a timeout when every candidate hangs', async () => {
    await putWorkflow(db, { name: 'all-hang', provider: 'openai', model: 'gpt-4o', steps: [step('s', 'p')] });
    const r = await run('all-hang', [openai], 200);
    await waitForRun(db, r.id, ['paused']);
    const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: r.id } });
    expect(s).toMatchObject({ status: 'paused', lastErrorKind: 'timeout', leaseOwner: null, attempts: 2 });
    expect(s.lastErrorMessage).toMatch(/did not answer within 200 ms/);
  });

  it('an adapter that ignores its abort signal is still cut off after the timeout and a short grace', async () => {
    const deaf = new ScriptedProvider('openai', () => new Promise<string>(() => {}));
    await putWorkflow(db, {
      name: 'deaf',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [step('s', 'p')],
    });
    engine = createTestEngine(db, [deaf], {
      clock: systemClock,
      stepTimeoutMs: 100,
      retry: { maxAttempts: 1, baseMs: 10, maxMs: 10 },
    });
    await engine.start();
    const r = await startApiRun(engine, 'deaf');
    // The provider never answers: only the backstop timer can pause the run in time.
    await waitForRun(db, r.id, ['paused']);
    const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: r.id } });
    expect(s.lastErrorKind).toBe('timeout');
  });

  it('cancelling a run aborts its hung call at once', async () => {
    await putWorkflow(db, {
      name: 'cancel-hang',
      provider: 'openai',
      model: 'gpt-4o',
      steps: [step('s', 'p')],
    });
    const r = await run('cancel-hang', [openai], 60_000);
    await waitForRun(db, r.id, ['running']);
    for (;;) {
      if (stub.inflight.size > 0) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await engine!.runs.cancelRun(r.id, 'U1');
    for (;;) {
      const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: r.id } });
      if (s.status === 'cancelled') break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    // The step timeout is 60 s: reaching `cancelled` within the test's time means the
    // cancel aborted the call itself, and the connection to the provider is gone.
    await waitFor(() => stub.inflight.size === 0, 5000, 'the hung call to be aborted');
    expect(await db.prisma.stepAttempt.count({ where: { runId: r.id } })).toBe(0);
  });
});
