import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CircuitSnapshot } from '../../src/health/breaker.js';
import { describeHealth, healthStatus, rankAlternatives, shortHealth } from '../../src/health/describe.js';
import { type AttemptSample, type HealthRow, providerHealth, summarise } from '../../src/health/stats.js';
import { createTestDatabase, storesOf, type TestDatabase } from '../support/db.js';
import { putWorkflow, step } from '../support/engine.js';

const T0 = new Date('2026-03-01T12:00:00Z').getTime();
let seq = 0;
function sample(
  ref: string,
  outcome: AttemptSample['outcome'],
  kind: string | null = null,
  latencyMs = 1000,
) {
  const [provider = '', model = ''] = ref.split('/');
  seq += 1;
  return { provider, model, outcome, errorKind: kind, latencyMs, finishedAt: new Date(T0 + seq * 1000) };
}

function healthRow(over: Partial<HealthRow>): HealthRow {
  return {
    provider: 'openai',
    model: 'gpt-4o-mini',
    calls: 6,
    successes: 6,
    failures: 0,
    successRate: 1,
    mainFailureKind: null,
    lastErrorKind: null,
    lastErrorAt: null,
    lastSuccessAt: null,
    medianLatencyMs: 1200,
    ...over,
  };
}

const open = (probeAt: Date): CircuitSnapshot => ({
  state: 'open',
  failures: 6,
  calls: 6,
  mainFailureKind: 'quota',
  openedAt: new Date(probeAt.getTime() - 30_000),
  probeAt,
});

describe('rolling figures', () => {
  it('per provider/model: success rate, main and last error kind, median latency of the successes', () => {
    const rows = summarise([
      sample('anthropic/claude-haiku-4-5', 'success', null, 800),
      ...Array.from({ length: 4 }, () => sample('anthropic/claude-haiku-4-5', 'error', 'rate_limit', 50)),
      sample('anthropic/claude-haiku-4-5', 'error', 'server', 50),
      sample('openai/gpt-4o-mini', 'success', null, 1000),
      sample('openai/gpt-4o-mini', 'success', null, 3000),
      sample('openai/gpt-4o-mini', 'success', null, 2000),
    ]);
    expect(rows).toEqual([
      expect.objectContaining({
        provider: 'anthropic',
        model: 'claude-haiku-4-5',
        calls: 6,
        successes: 1,
        failures: 5,
        mainFailureKind: 'rate_limit',
        lastErrorKind: 'server',
        medianLatencyMs: 800,
      }),
      expect.objectContaining({ provider: 'openai', calls: 3, successRate: 1, medianLatencyMs: 2000 }),
    ]);
  });

  it('counts only the last N calls, skips breaker skips and prompt-caused failures', () => {
    const rows = summarise(
      [
        ...Array.from({ length: 5 }, () => sample('openai/gpt-4o', 'error', 'server')),
        sample('openai/gpt-4o', 'skipped', 'circuit_open'),
        sample('openai/gpt-4o', 'error', 'context_length'),
        ...Array.from({ length: 3 }, () => sample('openai/gpt-4o', 'success')),
      ],
      { attempts: 4 },
    );
    expect(rows[0]).toMatchObject({ calls: 4, successes: 3, failures: 1 });
  });

  it('can group by provider', () => {
    const rows = summarise(
      [sample('openai/gpt-4o', 'success'), sample('openai/gpt-4o-mini', 'error', 'timeout')],
      {
        groupBy: 'provider',
      },
    );
    expect(rows).toEqual([
      expect.objectContaining({ provider: 'openai', model: null, calls: 2, failures: 1 }),
    ]);
  });

  describe('from the StepAttempt table', () => {
    let db: TestDatabase;
    beforeAll(async () => {
      db = await createTestDatabase();
    });
    afterAll(async () => {
      await db.close();
    });

    it('reads a time window of every replica’s calls', async () => {
      const wf = await putWorkflow(db, { name: 'h', steps: [step('s', 'p')] });
      const run = await db.prisma.workflowRun.create({
        data: {
          workflowId: wf.id,
          workflowName: 'h',
          snapshot: {},
          trigger: 'api',
          startedBy: 'test',
          steps: { create: [{ position: 0, name: 's', prompt: 'p' }] },
        },
        include: { steps: true },
      });
      const runStepId = run.steps[0]!.id;
      const now = new Date(T0 + 3_600_000);
      const rows = [
        { at: T0 - 1, outcome: 'error' as const, kind: 'server' }, // outside the hour
        { at: T0 + 10_000, outcome: 'error' as const, kind: 'rate_limit' },
        { at: T0 + 20_000, outcome: 'success' as const, kind: null },
        { at: T0 + 30_000, outcome: 'skipped' as const, kind: 'circuit_open' },
      ];
      await db.prisma.stepAttempt.createMany({
        data: rows.map((r, i) => ({
          runStepId,
          runId: run.id,
          number: i + 1,
          provider: 'anthropic',
          model: 'claude-haiku-4-5',
          outcome: r.outcome,
          errorKind: r.kind,
          latencyMs: 500,
          startedAt: new Date(r.at - 500),
          finishedAt: new Date(r.at),
        })),
      });
      const health = await providerHealth(storesOf(db).runs, { window: { sinceMs: 3_600_000 }, now });
      expect(health).toEqual([
        expect.objectContaining({
          provider: 'anthropic',
          model: 'claude-haiku-4-5',
          calls: 2,
          successes: 1,
          failures: 1,
          lastErrorKind: 'rate_limit',
          medianLatencyMs: 500,
        }),
      ]);
    });
  });
});

describe('health in words', () => {
  it('⚠ with the failures and what they were', () => {
    const row = healthRow({
      provider: 'anthropic',
      model: null,
      successes: 1,
      failures: 5,
      successRate: 1 / 6,
      mainFailureKind: 'rate_limit',
    });
    expect(describeHealth(row)).toBe('⚠ anthropic — 5 of last 6 failed: rate limited');
    expect(shortHealth(row)).toBe('degraded: rate limited');
  });

  it('✓ with the median when every call succeeded', () => {
    expect(describeHealth(healthRow({}))).toBe('✓ openai/gpt-4o-mini — 6 of last 6 succeeded · median 1.2 s');
    expect(shortHealth(healthRow({}))).toBeNull();
  });

  it('an open circuit says when the next try is', () => {
    const now = new Date(T0);
    const row = healthRow({
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      successes: 0,
      failures: 6,
      successRate: 0,
      mainFailureKind: 'quota',
      circuit: open(new Date(T0 + 25_000)),
    });
    expect(healthStatus(row)).toBe('down');
    expect(describeHealth(row, { now })).toBe(
      '⚠ anthropic/claude-haiku-4-5 — 6 of last 6 failed: billing · circuit open, next try in 25 s',
    );
    expect(shortHealth(row)).toBe('down: billing');
  });

  it('no calls: unknown', () => {
    const row = healthRow({ calls: 0, successes: 0, successRate: null, medianLatencyMs: null });
    expect(describeHealth(row)).toBe('· openai/gpt-4o-mini — no recent calls');
    expect(healthStatus(row)).toBe('unknown');
  });
});

describe('ranking "Retry with …" choices', () => {
  it('healthiest first: healthy, untried, degraded, down; then success rate, then speed, then given order', () => {
    const rows = [
      healthRow({ provider: 'anthropic', model: 'claude-haiku-4-5', circuit: open(new Date(T0)) }),
      healthRow({
        provider: 'google',
        model: 'gemini-2.5-flash',
        successes: 3,
        failures: 3,
        successRate: 0.5,
      }),
      healthRow({ provider: 'openai', model: 'gpt-4o', medianLatencyMs: 3000 }),
      healthRow({ provider: 'openai', model: 'gpt-4o-mini', medianLatencyMs: 900 }),
    ];
    const ranked = rankAlternatives(
      [
        { provider: 'anthropic', model: 'claude-haiku-4-5' },
        { provider: 'google', model: 'gemini-2.5-flash' },
        { provider: 'google', model: 'gemini-2.5-pro' },
        { provider: 'openai', model: 'gpt-4o' },
        { provider: 'openai', model: 'gpt-4o-mini' },
      ],
      rows,
    );
    expect(ranked.map((r) => [`${r.ref.provider}/${r.ref.model}`, r.status])).toEqual([
      ['openai/gpt-4o-mini', 'healthy'],
      ['openai/gpt-4o', 'healthy'],
      ['google/gemini-2.5-pro', 'unknown'],
      ['google/gemini-2.5-flash', 'degraded'],
      ['anthropic/claude-haiku-4-5', 'down'],
    ]);
    expect(ranked[0]?.text).toBe('✓ openai/gpt-4o-mini — 6 of last 6 succeeded · median 900 ms');
    expect(ranked[2]?.text).toBeNull();
  });

  it('uses a provider-wide row when there is none for the model', () => {
    const ranked = rankAlternatives(
      [
        { provider: 'anthropic', model: 'claude-sonnet-4-5' },
        { provider: 'openai', model: 'gpt-4o' },
      ],
      [healthRow({ provider: 'anthropic', model: null, successes: 0, failures: 6, successRate: 0 })],
    );
    expect(ranked.map((r) => r.status)).toEqual(['unknown', 'down']);
  });
});
