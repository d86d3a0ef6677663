import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AttemptFacts, fallbackNote } from '../../src/slack/views/fallback-note.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  createTestEngine,
  fail,
  putWorkflow,
  ScriptedProvider,
  startApiRun,
  step,
  waitForRun,
} from '../support/engine.js';

let n = 0;
const attempt = (
  ref: string,
  outcome: AttemptFacts['outcome'],
  errorKind: string | null = null,
  startedAt?: Date,
): AttemptFacts => {
  const [provider = '', model = ''] = ref.split('/');
  n += 1;
  return { number: n, provider, model, outcome, errorKind, startedAt };
};

describe('fallbackNote', () => {
  it('says which provider answered and why the chain moved on', () => {
    expect(
      fallbackNote([
        attempt('anthropic/claude-haiku-4-5', 'error', 'quota'),
        attempt('openai/gpt-4o-mini', 'success'),
      ]),
    ).toBe('anthropic/claude-haiku-4-5: billing (quota) → answered by openai/gpt-4o-mini');
  });

  it('counts repeated failures, lists mixed kinds in order and shows breaker skips', () => {
    expect(
      fallbackNote([
        attempt('openai/gpt-4o', 'error', 'rate_limit'),
        attempt('openai/gpt-4o', 'error', 'rate_limit'),
        attempt('openai/gpt-4o', 'error', 'server'),
        attempt('anthropic/claude-haiku-4-5', 'skipped', 'circuit_open'),
        attempt('google/gemini-2.5-flash', 'success'),
      ]),
    ).toBe(
      'openai/gpt-4o: rate limited (rate_limit) ×2, server error (server) → ' +
        'anthropic/claude-haiku-4-5: skipped (circuit open) → answered by google/gemini-2.5-flash',
    );
  });

  it('explains retries that ended on the same provider', () => {
    expect(
      fallbackNote([attempt('openai/gpt-4o', 'error', 'overloaded'), attempt('openai/gpt-4o', 'success')]),
    ).toBe('openai/gpt-4o: overloaded (overloaded) → answered by openai/gpt-4o');
  });

  it('is null when the first call answered, or there were no calls', () => {
    expect(fallbackNote([attempt('openai/gpt-4o', 'success')])).toBeNull();
    expect(fallbackNote([])).toBeNull();
  });

  it('describes a step that never got an answer (paused) without an "answered by"', () => {
    expect(
      fallbackNote([
        attempt('openai/gpt-4o', 'error', 'auth'),
        attempt('google/gemini-2.5-pro', 'error', 'timeout'),
      ]),
    ).toBe('openai/gpt-4o: API key rejected (auth) → google/gemini-2.5-pro: timed out (timeout)');
  });

  it('with `since`, describes only the latest execution (after a Retry)', () => {
    const before = new Date('2026-01-01T10:00:00Z');
    const after = new Date('2026-01-01T11:00:00Z');
    const rows = [
      attempt('anthropic/claude-haiku-4-5', 'error', 'quota', before),
      attempt('openai/gpt-4o', 'success', null, after),
    ];
    expect(fallbackNote(rows, { since: after })).toBeNull();
    expect(fallbackNote(rows)).toContain('billing (quota)');
  });

  it('sorts by attempt number whatever order the rows come in', () => {
    const a = attempt('openai/gpt-4o', 'error', 'network');
    const b = attempt('openai/gpt-4o-mini', 'success');
    expect(fallbackNote([b, a])).toBe(
      'openai/gpt-4o: unreachable (network) → answered by openai/gpt-4o-mini',
    );
  });
});

describe('fallbackNote over a real run’s StepAttempt rows', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    await db.close();
  });

  it('reads the card’s note straight from the database', async () => {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'quota', provider: 'anthropic', status: 402, message: 'billing_error' });
    });
    const openai = new ScriptedProvider('openai', () => 'ok');
    await putWorkflow(db, {
      name: 'note',
      steps: [
        step('s', 'p', {
          provider: 'anthropic',
          model: 'claude-haiku-4-5',
          fallbacks: [{ provider: 'openai', model: 'gpt-4o-mini' }],
        }),
      ],
    });
    const engine = createTestEngine(db, [anthropic, openai]);
    await engine.start();
    try {
      const run = await startApiRun(engine, 'note');
      await waitForRun(db, run.id, ['completed']);
      const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
      const rows = await db.prisma.stepAttempt.findMany({ where: { runStepId: s.id } });
      expect(fallbackNote(rows, { since: s.startedAt })).toBe(
        'anthropic/claude-haiku-4-5: billing (quota) → answered by openai/gpt-4o-mini',
      );
    } finally {
      await engine.stop(0);
    }
  });
});
