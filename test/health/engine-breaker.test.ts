import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { fallbackNote } from '../../src/slack/views/fallback-note.js';
import { TestClock, testNow } from '../support/clock.js';
import { storesOf, type TestDatabase, useTestDatabase } from '../support/db.js';
import {
  createTestEngine,
  fail,
  putWorkflow,
  ScriptedProvider,
  startApiRun,
  step,
  waitForRun,
} from '../support/engine.js';

/**
 * The engine consults the circuit breakers before each call: an open circuit sends the
 * step straight to a healthy fallback (and the card's note says so), a probe after the
 * cooldown closes or re-opens it, and a restarted replica starts from what the table says.
 */

const HAIKU = { provider: 'anthropic' as const, model: 'claude-haiku-4-5' };
const settings = { failureThreshold: 2, window: 3, windowMs: 600_000, cooldownMs: 30_000 };

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
const engines: Engine[] = [];
const clock = new TestClock({ start: testNow() });

beforeEach(async () => {
  clock.set(testNow());
});
afterEach(async () => {
  for (const e of engines.splice(0)) await e.stop(0);
});

function monitor() {
  return new HealthMonitor({ calls: storesOf(db).runs, settings, clock, syncMs: 0 });
}

async function engineWith(providers: ScriptedProvider[], health: HealthMonitor) {
  const e = createTestEngine(db, providers, { health, retry: { maxAttempts: 1, baseMs: 1, maxMs: 1 } });
  engines.push(e);
  await e.start();
  return e;
}

async function runOnce(e: Engine, workflow = 'guarded') {
  const run = await startApiRun(e, workflow);
  const done = await waitForRun(db, run.id, ['completed', 'paused']);
  const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
  const attempts = await db.prisma.stepAttempt.findMany({ where: { runStepId: s.id } });
  return { run: done, step: s, attempts, note: fallbackNote(attempts) };
}

async function guardedWorkflow(withFallback = true) {
  await putWorkflow(db, {
    name: 'guarded',
    steps: [
      step('s', 'p', {
        ...HAIKU,
        fallbacks: withFallback ? [{ provider: 'openai', model: 'gpt-4o-mini' }] : [],
      }),
    ],
  });
}

describe('the engine and the circuit breaker', () => {
  it('once the circuit opens, steps go straight to the healthy fallback and the note says why', async () => {
    let anthropicUp = false;
    const anthropic = new ScriptedProvider('anthropic', () => {
      if (!anthropicUp) throw fail({ kind: 'overloaded', provider: 'anthropic', status: 529 });
      return 'from anthropic';
    });
    const openai = new ScriptedProvider('openai', () => 'from openai');
    await guardedWorkflow();
    const health = monitor();
    const e = await engineWith([anthropic, openai], health);

    expect((await runOnce(e)).note).toBe(
      'anthropic/claude-haiku-4-5: overloaded (overloaded) → answered by openai/gpt-4o-mini',
    );
    await runOnce(e);
    expect(health.circuit(HAIKU).state).toBe('open');

    const third = await runOnce(e);
    expect(anthropic.calls).toHaveLength(2); // not called: skipped
    expect(third.step.answeredProvider).toBe('openai');
    expect(third.note).toBe(
      'anthropic/claude-haiku-4-5: skipped (circuit open) → answered by openai/gpt-4o-mini',
    );
    expect(third.attempts.find((a) => a.outcome === 'skipped')).toMatchObject({
      errorKind: 'circuit_open',
      errorMessage: 'circuit open (2 of last 2 failed: overloaded)',
      latencyMs: 0,
    });

    // After the cooldown one probe goes through; it succeeds and the circuit closes.
    clock.advance(30_000);
    anthropicUp = true;
    const fourth = await runOnce(e);
    expect(fourth.step.answeredProvider).toBe('anthropic');
    expect(health.circuit(HAIKU).state).toBe('closed');
    expect(anthropic.calls).toHaveLength(3);
  });

  it('a failed probe opens the circuit for another cooldown', async () => {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'server', provider: 'anthropic', status: 500 });
    });
    const openai = new ScriptedProvider('openai', () => 'from openai');
    await guardedWorkflow();
    const health = monitor();
    const e = await engineWith([anthropic, openai], health);
    await runOnce(e);
    await runOnce(e);
    clock.advance(30_000);
    await runOnce(e); // the probe
    expect(anthropic.calls).toHaveLength(3);
    expect(health.circuit(HAIKU).state).toBe('open');
    clock.advance(29_000);
    await runOnce(e);
    expect(anthropic.calls).toHaveLength(3);
  });

  it('when every candidate’s circuit is open it still calls them rather than pause untried', async () => {
    let up = false;
    const anthropic = new ScriptedProvider('anthropic', () => {
      if (!up) throw fail({ kind: 'rate_limit', provider: 'anthropic', status: 429 });
      return 'recovered';
    });
    await guardedWorkflow(false);
    const health = monitor();
    const e = await engineWith([anthropic], health);
    expect((await runOnce(e)).run.status).toBe('paused');
    expect((await runOnce(e)).run.status).toBe('paused');
    expect(health.circuit(HAIKU).state).toBe('open');

    // Still open, nothing else to try: called anyway, and still failing it pauses with the
    // provider's own error (not "skipped").
    const stillDown = await runOnce(e);
    expect(anthropic.calls).toHaveLength(3);
    expect(stillDown.step).toMatchObject({ status: 'paused', lastErrorKind: 'rate_limit' });
    expect(stillDown.attempts.map((a) => a.outcome)).toEqual(['error']);

    up = true;
    const back = await runOnce(e);
    expect(back.step).toMatchObject({ status: 'completed', output: 'recovered' });
    expect(back.note).toBeNull();
    expect(health.circuit(HAIKU).state).toBe('closed');
  });

  it('a replica started later seeds its circuits from StepAttempt and skips the same provider', async () => {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'quota', provider: 'anthropic', status: 402 });
    });
    const openai = new ScriptedProvider('openai', () => 'from openai');
    await guardedWorkflow();
    const first = await engineWith([anthropic, openai], monitor());
    await runOnce(first);
    await runOnce(first);
    await first.stop(0);

    const replicaHealth = monitor();
    const replica = await engineWith([anthropic, openai], replicaHealth);
    expect(replicaHealth.circuit(HAIKU)).toMatchObject({
      state: 'open',
      failures: 2,
      mainFailureKind: 'quota',
    });
    const r = await runOnce(replica);
    expect(anthropic.calls).toHaveLength(2);
    expect(r.note).toBe(
      'anthropic/claude-haiku-4-5: skipped (circuit open) → answered by openai/gpt-4o-mini',
    );

    const table = await replicaHealth.table();
    const row = table.find((x) => x.provider === 'anthropic');
    expect(row).toMatchObject({ calls: 2, failures: 2, circuit: { state: 'open' } });
  });

  it('a circuit that opens while a step is retrying sends it to the fallback; with none, retries run their course', async () => {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'server', provider: 'anthropic', status: 500 });
    });
    const openai = new ScriptedProvider('openai', () => 'from openai');
    await guardedWorkflow();
    const health = monitor();
    const e = createTestEngine(db, [anthropic, openai], {
      health,
      retry: { maxAttempts: 5, baseMs: 1, maxMs: 1 },
    });
    engines.push(e);
    await e.start();
    const withFallback = await runOnce(e);
    // Two failures open it (threshold 2): the third retry is not made, OpenAI answers.
    expect(anthropic.calls).toHaveLength(2);
    expect(withFallback.note).toBe(
      'anthropic/claude-haiku-4-5: server error (server) ×2 → answered by openai/gpt-4o-mini',
    );

    await putWorkflow(db, { name: 'alone', steps: [step('s', 'p', { ...HAIKU })] });
    clock.advance(30_000); // half-open: the next call is the probe
    const alone = await runOnce(e, 'alone');
    // Nothing to fall back to: the policy's five calls are made, then the step pauses.
    expect(anthropic.calls).toHaveLength(7);
    expect(alone.step).toMatchObject({ status: 'paused', lastErrorKind: 'server', attempts: 5 });
  });

  it('prompt-caused failures do not open the circuit', async () => {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'context_length', provider: 'anthropic', status: 400 });
    });
    const openai = new ScriptedProvider('openai', () => 'ok');
    await guardedWorkflow();
    const health = monitor();
    const e = await engineWith([anthropic, openai], health);
    for (let i = 0; i < 3; i++) await runOnce(e);
    expect(anthropic.calls).toHaveLength(3);
    expect(health.circuit(HAIKU).state).toBe('closed');
  });
});
