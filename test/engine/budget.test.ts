import { afterEach, describe, expect, it } from 'vitest';
import { budgetDay } from '../../src/engine/budget.js';
import type { Engine } from '../../src/engine/engine.js';
import { buildPriceList } from '../../src/providers/prices.js';
import { TestClock } from '../support/clock.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import {
  createTestEngine,
  putWorkflow,
  ScriptedProvider,
  startApiRun,
  step,
  waitFor,
} from '../support/engine.js';

/**
 * Budgets that act before overspend (docs/control.md, "Budgets"), on the real engine and
 * database: concurrent runs against one daily cap cannot overspend it together, because
 * each call's worst case is reserved in one locked transaction before the call is made.
 *
 * The bound: spend ≤ cap + Σ (actual − reserved)⁺ over the calls in flight together. A
 * reservation bounds its call (prompt bytes ≥ prompt tokens; output capped by
 * MAX_OUTPUT_TOKENS), so with providers that honour max tokens the excess is 0 and
 * spend ≤ cap. A provider that overshoots its max tokens adds at most its own excess per
 * call in flight — with one call at a time, exactly one call's reservation error.
 *
 * Here every call reports 10 input and 5 output tokens at $100 per million: $0.0015. The
 * prompt "go" is bounded at 2 + 32 tokens.
 */

let db: TestDatabase;
useTestDatabase((d) => {
  db = d;
});

let engine: Engine | undefined;
afterEach(async () => {
  await engine?.stop(0);
  engine = undefined;
});

const PRICE = 100 / 1_000_000;
const prices = buildPriceList({ 'openai/gpt-4o-mini': { inputPerMTok: 100, outputPerMTok: 100 } });

async function runMany(options: { runs: number; capUsd: number; maxOutputTokens: number }) {
  const clock = new TestClock({ realTime: true, sleeps: 'skip' });
  // Calls overlap: each holds its answer a little, so many are in flight at once.
  const openai = new ScriptedProvider('openai', async () => {
    await new Promise((resolve) => setTimeout(resolve, 20));
    return 'ok';
  });
  engine = createTestEngine(db, [openai], {
    clock,
    concurrency: options.runs,
    prices,
    budget: { dailyUsd: options.capUsd, maxOutputTokens: options.maxOutputTokens },
  });
  await putWorkflow(db, {
    name: 'w',
    provider: 'openai',
    model: 'gpt-4o-mini',
    steps: [step('only', 'go')],
  });
  await engine.start();
  const runs = await Promise.all(Array.from({ length: options.runs }, () => startApiRun(engine!, 'w')));
  const ids = runs.map((r) => r.id);
  await waitFor(
    async () =>
      (await db.prisma.workflowRun.count({
        where: { id: { in: ids }, status: { in: ['completed', 'paused'] } },
      })) === ids.length,
    20_000,
    'every run to complete or pause',
  );
  const attempts = await db.prisma.stepAttempt.findMany({ where: { runId: { in: ids } } });
  const spent = attempts.reduce((sum, a) => sum + (a.costUsd ?? 0), 0);
  const paused = await db.prisma.runStep.findMany({ where: { runId: { in: ids }, status: 'paused' } });
  const ledger = await db.prisma.budgetLedger.findUniqueOrThrow({
    where: { scope_day: { scope: 'global', day: budgetDay(clock.now()) } },
  });
  return { attempts, spent, paused, ledger, calls: openai.calls };
}

describe('a daily cap shared by 20 concurrent runs', () => {
  it('is never overspent: each call reserves its worst case first, in one locked write', async () => {
    const cap = 0.03;
    const { attempts, spent, paused, ledger, calls } = await runMany({
      runs: 20,
      capUsd: cap,
      maxOutputTokens: 20,
    });
    // A call's worst case: (2 + 32) tokens in and 20 out = $0.0054; each costs $0.0015.
    expect(attempts.every((a) => a.costUsd !== null && Math.abs(a.costUsd - 15 * PRICE) < 1e-12)).toBe(true);
    expect(spent).toBeLessThanOrEqual(cap);
    // The ledger agrees with the attempts, and nothing is left reserved.
    expect(ledger.spentUsd).toBeCloseTo(spent, 10);
    expect(ledger.reservedUsd).toBeCloseTo(0, 10);
    // The cap bit: some runs paused before calling, with the reason; none was called twice.
    expect(paused.length).toBeGreaterThan(0);
    expect(paused.every((s) => s.lastErrorKind === 'over_daily_budget')).toBe(true);
    expect(paused[0]!.lastErrorMessage).toMatch(
      /^The daily cap for all runs \(BUDGET_DAILY_USD\) is \$0\.03: \$0\.\d+ spent( and \$0\.\d+ held by calls in flight)? today \(UTC \d{4}-\d\d-\d\d\)\. The next call to openai\/gpt-4o-mini could cost up to \$0\.0054, so it was not made\.$/,
    );
    expect(calls.length).toBe(attempts.length);
    expect(attempts.length + paused.length).toBe(20);
    // At least as many as fit by worst case alone were admitted.
    expect(attempts.length).toBeGreaterThanOrEqual(Math.floor(cap / (54 * PRICE)));
  });

  it('with a provider that overshoots its max tokens, stays within the cap plus each in-flight call’s excess', async () => {
    const cap = 0.03;
    // Max output 2 tokens, but the provider reports 5: each call costs 3 tokens more than reserved.
    const excess = 3 * PRICE;
    const { spent, ledger, attempts } = await runMany({ runs: 20, capUsd: cap, maxOutputTokens: 2 });
    expect(attempts.length).toBeGreaterThan(0);
    // Worst case $0.0036, so at most floor(0.03 / 0.0036) = 8 calls are in flight at once.
    const inFlight = Math.floor(cap / (36 * PRICE));
    expect(spent).toBeLessThanOrEqual(cap + inFlight * excess + 1e-12);
    expect(ledger.spentUsd).toBeCloseTo(spent, 10);
  });
});

describe('a per-run cap', () => {
  it('refuses a call whose model has no price, rather than letting it spend unseen', async () => {
    const openai = new ScriptedProvider('openai');
    await putWorkflow(db, {
      name: 'unpriced',
      provider: 'openai',
      model: 'gpt-4o-mini',
      budget: { perRunUsd: 1 },
      steps: [step('only', 'go')],
    });
    // A price list without gpt-4o-mini (as for a model served by a local server):
    engine = createTestEngine(db, [openai], {
      prices: { price: () => undefined },
      budget: { maxOutputTokens: 10 },
    });
    await engine.start();
    const run = await startApiRun(engine, 'unpriced');
    const paused = await waitFor(async () => {
      const s = await db.prisma.runStep.findFirst({ where: { runId: run.id, status: 'paused' } });
      return s ?? undefined;
    });
    expect(paused.lastErrorKind).toBe('unpriced_model');
    expect(paused.lastErrorMessage).toContain('No price is known for openai/gpt-4o-mini');
    expect(openai.calls).toEqual([]);
  });

  it('costs nothing to check when no cap applies, and prices every call anyway', async () => {
    const openai = new ScriptedProvider('openai');
    engine = createTestEngine(db, [openai], { prices, budget: { maxOutputTokens: 64 } });
    await putWorkflow(db, {
      name: 'free',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [step('only', 'go')],
    });
    await engine.start();
    const run = await startApiRun(engine, 'free');
    await waitFor(
      async () => (await db.prisma.workflowRun.findUnique({ where: { id: run.id } }))?.status === 'completed',
    );
    expect(await db.prisma.budgetLedger.count()).toBe(0);
    const [attempt] = await db.prisma.stepAttempt.findMany({ where: { runId: run.id } });
    expect(attempt!.costUsd).toBeCloseTo(15 * PRICE, 12);
    // Every call carries the max output tokens the budgets count on.
    expect(openai.calls[0]!.maxOutputTokens).toBe(64);
  });
});
