import { afterAll, beforeAll, expect, it } from 'vitest';
import { systemClock } from '../../src/core/clock.js';
import type { Engine } from '../../src/engine/engine.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { createAnthropicProvider } from '../../src/providers/anthropic.js';
import { createOpenAIProvider } from '../../src/providers/openai.js';
import { settingsFor } from '../../src/providers/table.js';
import { fallbackNote } from '../../src/slack/views/fallback-note.js';
import {
  type AnthropicStub,
  anthropicError,
  anthropicPromptOf,
  startAnthropicStub,
} from '../support/anthropic-stub.js';
import { createTestDatabase, storesOf, type TestDatabase } from '../support/db.js';
import { createTestEngine, putWorkflow, step } from '../support/engine.js';
import { type OpenAIStub, promptOf, startOpenAIStub } from '../support/openai-stub.js';
import { report, startRuns, tally, waitUntilSettled } from './figures.js';

/**
 * Anthropic answers 529 overloaded_error (through the real SDK) while OpenAI is fine. The
 * first steps retry, then fall back; once the circuit opens, steps go straight to OpenAI
 * without calling Anthropic; when Anthropic recovers, a probe after the cooldown closes
 * the circuit and Anthropic answers again.
 */

const WAVE1 = 15;
const WAVE2 = 5;
const COOLDOWN_MS = 1000;

let db: TestDatabase;
let anthropic: AnthropicStub;
let openai: OpenAIStub;
let engine: Engine;
let overloaded = true;

beforeAll(async () => {
  db = await createTestDatabase();
  anthropic = await startAnthropicStub((request) =>
    overloaded
      ? anthropicError(529, 'overloaded_error', 'Overloaded')
      : { text: `anthropic: ${anthropicPromptOf(request)}`, delayMs: 20 },
  );
  openai = await startOpenAIStub((request) => ({ text: `openai: ${promptOf(request)}`, delayMs: 20 }));
});
afterAll(async () => {
  await engine?.stop(0);
  await anthropic.close();
  await openai.close();
  await db.close();
});

async function wave(count: number) {
  const ids = await startRuns(engine, 'overload', count);
  await waitUntilSettled(db, ids, 30_000, 'the wave to finish');
  return ids;
}

it('529 overloads: fall back to OpenAI, stop calling Anthropic once its circuit opens, probe and close after', async () => {
  const t0 = performance.now();
  await putWorkflow(db, {
    name: 'overload',
    steps: [
      step('only', 'summarise {{run.id}}', {
        provider: 'anthropic',
        model: 'claude-haiku-4-5',
        fallbacks: [{ provider: 'openai', model: 'gpt-4o-mini' }],
      }),
    ],
  });
  const health = new HealthMonitor({
    calls: storesOf(db).runs,
    settings: { failureThreshold: 5, window: 6, windowMs: 60_000, cooldownMs: COOLDOWN_MS },
    syncMs: 0,
  });
  engine = createTestEngine(
    db,
    [
      createAnthropicProvider(
        settingsFor('anthropic', { apiKey: 'sk-ant-test-overload', baseUrl: anthropic.baseUrl }),
      ),
      createOpenAIProvider(settingsFor('openai', { apiKey: 'sk-test-overload', baseUrl: openai.baseUrl })),
    ],
    { clock: systemClock, health, random: Math.random, retry: { maxAttempts: 2, baseMs: 20, maxMs: 50 } },
  );
  await engine.start();

  const first = await wave(WAVE1);
  const ref = { provider: 'anthropic' as const, model: 'claude-haiku-4-5' };
  expect(health.circuit(ref).state).not.toBe('closed');
  const anthropicCallsDuringOutage = anthropic.requests.length;
  // Without the breaker every step would call Anthropic twice.
  expect(anthropicCallsDuringOutage).toBeLessThan(WAVE1 * 2);
  const steps = await db.prisma.runStep.findMany({
    where: { runId: { in: first } },
    include: { stepAttempts: true },
  });
  expect(steps.every((s) => s.answeredProvider === 'openai')).toBe(true);
  const notes = steps.map((s) => fallbackNote(s.stepAttempts));
  expect(notes).toContain(
    'anthropic/claude-haiku-4-5: overloaded (overloaded) ×2 → answered by openai/gpt-4o-mini',
  );
  expect(notes).toContain(
    'anthropic/claude-haiku-4-5: skipped (circuit open) → answered by openai/gpt-4o-mini',
  );
  const skips = steps.flatMap((s) => s.stepAttempts).filter((a) => a.outcome === 'skipped').length;

  overloaded = false;
  await new Promise((r) => setTimeout(r, COOLDOWN_MS + 50));
  const second = await wave(WAVE2);
  const answeredBy = await db.prisma.runStep.findMany({ where: { runId: { in: second } } });
  expect(answeredBy.some((s) => s.answeredProvider === 'anthropic')).toBe(true);
  expect(health.circuit(ref).state).toBe('closed');

  const figures = await tally(db, [...first, ...second], [anthropic.answered, openai.answered]);
  report(
    '529 overload + fallback',
    figures,
    t0,
    `anthropic calls in outage ${anthropicCallsDuringOutage} (of ${WAVE1 * 2} without breaker), skipped ${skips}`,
  );
  expect(figures).toMatchObject({ runs: WAVE1 + WAVE2, completed: WAVE1 + WAVE2, duplicates: 0, lost: 0 });
}, 60_000);
