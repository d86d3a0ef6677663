import { afterEach, describe, expect, it, vi } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { ErrorKind } from '../../src/core/error-kinds.js';
import type { Engine } from '../../src/engine/engine.js';
import { backoffDelay, resolveRetryPolicy } from '../../src/engine/retry.js';
import { TestClock, testNow } from '../support/clock.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import {
  createTestEngine,
  fail,
  putWorkflow,
  ScriptedProvider,
  step,
  waitForRun,
} from '../support/engine.js';

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
let engine: Engine | undefined;

afterEach(async () => {
  vi.useRealTimers();
  await engine?.stop(0);
  engine = undefined;
});

async function start(e: Engine, workflow: string) {
  engine = e;
  await e.start();
  return e.runs.startRun({ workflow, input: 'in', startedBy: 'U1', trigger: 'slash' });
}

const attemptsOf = (runId: string) =>
  db.prisma.stepAttempt.findMany({ where: { runId }, orderBy: { number: 'asc' } });

/** Real-time polling that fake timers cannot stall (setImmediate is left real). */
async function until(check: () => boolean | Promise<boolean>, what: string, ms = 10_000) {
  const end = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
  }
}

describe('the retry policy', () => {
  it('step fields win over the workflow’s, which win over the global ones; jitter and deadline are global', () => {
    const policy = resolveRetryPolicy(
      { maxAttempts: 3, baseMs: 1000, maxMs: 30_000, jitter: 0.2, deadlineMs: 90_000 },
      { maxAttempts: 5, baseMs: 500 },
      { maxAttempts: 2 },
    );
    expect(policy).toMatchObject({
      maxAttempts: 2,
      baseMs: 500,
      maxMs: 30_000,
      jitter: 0.2,
      deadlineMs: 90_000,
    });
    expect(resolveRetryPolicy({ maxAttempts: 3, baseMs: 1, maxMs: 1 })).toMatchObject({
      jitter: 0.5,
      deadlineMs: 600_000,
    });
    expect(resolveRetryPolicy({ maxAttempts: 0, baseMs: 1, maxMs: 1, jitter: 7 })).toMatchObject({
      maxAttempts: 1,
      jitter: 1,
    });
  });

  it('jitter draws each backoff from [delay × (1 − jitter), delay]', () => {
    const policy = resolveRetryPolicy({ maxAttempts: 5, baseMs: 1000, maxMs: 60_000, jitter: 0.5 });
    expect(backoffDelay(1, policy, undefined, () => 0)).toBe(1000);
    expect(backoffDelay(1, policy, undefined, () => 1)).toBe(500);
    expect(backoffDelay(3, policy, undefined, () => 0.5)).toBe(3000);
    const none = resolveRetryPolicy({ maxAttempts: 5, baseMs: 1000, maxMs: 60_000, jitter: 0 });
    expect(backoffDelay(2, none, undefined, () => 1)).toBe(2000);
  });

  it('never waits less than Retry-After, whatever the jitter drew', () => {
    const policy = resolveRetryPolicy({ maxAttempts: 5, baseMs: 100, maxMs: 200, jitter: 1 });
    for (const r of [0, 0.3, 0.99]) expect(backoffDelay(4, policy, 7000, () => r)).toBe(7000);
  });
});

describe('Retry-After with fake timers', () => {
  it('does not call the provider again before the time Retry-After asked for has passed', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const openai = new ScriptedProvider('openai', (_r, call) => {
      if (call === 1) throw fail({ kind: 'rate_limit', provider: 'openai', status: 429, retryAfterMs: 7000 });
      return 'ok';
    });
    await putWorkflow(db, { name: 'ra', provider: 'openai', steps: [step('s', 'p')] });
    const e = createTestEngine(db, [openai], {
      clock: systemClock,
      jitter: 0.5,
      random: () => 0.99, // the jittered backoff (~100 ms) is far below Retry-After
      retry: { maxAttempts: 3, baseMs: 100, maxMs: 1000 },
    });
    const run = await start(e, 'ra');
    await until(async () => (await attemptsOf(run.id)).length === 1, 'the first attempt');
    await until(() => vi.getTimerCount() > 0, 'the backoff timer');

    await vi.advanceTimersByTimeAsync(6_999);
    expect(openai.calls).toHaveLength(1);

    await vi.advanceTimersByTimeAsync(1);
    await until(() => openai.calls.length === 2, 'the second call');
    vi.useRealTimers();
    await waitForRun(db, run.id, ['completed']);
    const attempts = await attemptsOf(run.id);
    expect(attempts.map((a) => [a.outcome, a.errorKind])).toEqual([
      ['error', 'rate_limit'],
      ['success', null],
    ]);
  });
});

describe('kinds that cannot succeed on retry', () => {
  const nonRetryable: ErrorKind[] = ['auth', 'quota', 'invalid_request', 'context_length', 'content_filter'];
  const retryable: ErrorKind[] = ['rate_limit', 'overloaded', 'server', 'timeout', 'network'];

  async function chain(kind: ErrorKind) {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind, provider: 'anthropic', model: 'claude-haiku-4-5' });
    });
    const openai = new ScriptedProvider('openai', () => 'from openai');
    await putWorkflow(db, {
      name: `k-${kind.replace(/_/g, '-')}`,
      steps: [
        step('s', 'p', {
          provider: 'anthropic',
          model: 'claude-haiku-4-5',
          fallbacks: [{ provider: 'openai', model: 'gpt-4o-mini' }],
        }),
      ],
    });
    const run = await start(
      createTestEngine(db, [anthropic, openai], { retry: { maxAttempts: 3, baseMs: 1, maxMs: 1 } }),
      `k-${kind.replace(/_/g, '-')}`,
    );
    await waitForRun(db, run.id, ['completed']);
    return { anthropic, openai };
  }

  it.each(nonRetryable)('%s goes straight to the next fallback after one call', async (kind) => {
    const { anthropic, openai } = await chain(kind);
    expect(anthropic.calls).toHaveLength(1);
    expect(openai.calls).toHaveLength(1);
  });

  it.each(retryable)('%s is retried up to the policy’s attempts, then the fallback answers', async (kind) => {
    const { anthropic, openai } = await chain(kind);
    expect(anthropic.calls).toHaveLength(3);
    expect(openai.calls).toHaveLength(1);
  });

  it('a non-retryable error with no fallback left pauses at once', async () => {
    const openai = new ScriptedProvider('openai', () => {
      throw fail({ kind: 'context_length', provider: 'openai', status: 400, message: 'prompt is too long' });
    });
    await putWorkflow(db, { name: 'ctx', provider: 'openai', model: 'gpt-4o-mini', steps: [step('s', 'p')] });
    const run = await start(createTestEngine(db, [openai]), 'ctx');
    await waitForRun(db, run.id, ['paused']);
    expect(openai.calls).toHaveLength(1);
    const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
    expect(s).toMatchObject({ status: 'paused', lastErrorKind: 'context_length', attempts: 1 });
  });

  it('a Retry-After longer than the policy is willing to wait moves on to the fallback', async () => {
    const openai = new ScriptedProvider('openai', () => {
      throw fail({ kind: 'rate_limit', provider: 'openai', status: 429, retryAfterMs: 3_600_000 });
    });
    const google = new ScriptedProvider('google', () => 'g');
    await putWorkflow(db, {
      name: 'long-wait',
      steps: [
        step('s', 'p', {
          provider: 'openai',
          model: 'gpt-4o-mini',
          fallbacks: [{ provider: 'google', model: 'gemini-2.5-flash' }],
        }),
      ],
    });
    const run = await start(createTestEngine(db, [openai, google]), 'long-wait');
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls).toHaveLength(1);
    expect(google.calls).toHaveLength(1);
  });
});

describe('the step deadline', () => {
  it('starts no call after it: the remaining candidates are skipped and the step pauses with the last error', async () => {
    const clock = new TestClock({ start: testNow(), sleeps: 'advance' });
    const slowFailure = (id: 'openai' | 'anthropic') =>
      new ScriptedProvider(id, () => {
        clock.advance(4000); // each call takes 4 s of (virtual) time, then fails
        throw fail({ kind: 'server', provider: id, status: 500, message: `${id} is down` });
      });
    const openai = slowFailure('openai');
    const anthropic = slowFailure('anthropic');
    const google = new ScriptedProvider('google', () => 'never asked');
    await putWorkflow(db, {
      name: 'deadline',
      steps: [
        step('s', 'p', {
          provider: 'openai',
          model: 'gpt-4o-mini',
          fallbacks: [
            { provider: 'anthropic', model: 'claude-haiku-4-5' },
            { provider: 'google', model: 'gemini-2.5-flash' },
          ],
        }),
      ],
    });
    const e = createTestEngine(db, [openai, anthropic, google], {
      clock: clock,
      deadlineMs: 10_000,
      retry: { maxAttempts: 2, baseMs: 100, maxMs: 100 },
    });
    const run = await start(e, 'deadline');
    await waitForRun(db, run.id, ['paused']);
    // openai at 0 s and 4.1 s; anthropic at 8.1 s (before the deadline); its retry would
    // start at 12.2 s, past it, so it is not taken, and google is never tried.
    expect(openai.calls).toHaveLength(2);
    expect(anthropic.calls).toHaveLength(1);
    expect(google.calls).toHaveLength(0);
    const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
    expect(s).toMatchObject({
      status: 'paused',
      lastErrorKind: 'server',
      lastErrorProvider: 'anthropic',
      lastErrorMessage: 'anthropic is down',
      attempts: 3,
    });
  });

  it('is counted from each execution: Retry after a pause gets a fresh budget', async () => {
    const clock = new TestClock({ start: testNow(), sleeps: 'advance' });
    let down = true;
    const openai = new ScriptedProvider('openai', () => {
      clock.advance(6000);
      if (down) throw fail({ kind: 'server', provider: 'openai', status: 500 });
      return 'back';
    });
    await putWorkflow(db, {
      name: 'fresh',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [step('s', 'p')],
    });
    const e = createTestEngine(db, [openai], {
      clock: clock,
      deadlineMs: 10_000,
      retry: { maxAttempts: 5, baseMs: 100, maxMs: 100 },
    });
    const run = await start(e, 'fresh');
    await waitForRun(db, run.id, ['paused']);
    expect(openai.calls).toHaveLength(2);
    down = false;
    const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
    await e.runs.retryStep(s.id, 'U1');
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls).toHaveLength(3);
  });
});
