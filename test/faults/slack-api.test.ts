import { afterAll, beforeAll, expect, it } from 'vitest';
import { visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import { type Harness, interceptLlms, PERSONAS_YML, startHarness } from '../support/slack-harness.js';
import { report, tally } from './figures.js';

/**
 * Slack's Web API has a bad day while cards are being posted: chat.postMessage answers 500
 * and 429 for a while, chat.update answers 429 with Retry-After and then 500. Every run must
 * still complete, every parent and card must end up showing its final state, and no message
 * may be posted twice.
 */

const RUNS = 8;
const TWO_STEPS_YML = `name: two
description: Two OpenAI steps
provider: openai
model: gpt-4o-mini
steps:
  - name: first
    prompt: "first {{input}}"
  - name: second
    prompt: "second {{previous.output}}"
`;

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ workflows: { 'personas.yml': PERSONAS_YML, 'two.yml': TWO_STEPS_YML } });
  // Slow enough that cards are posted before their steps finish and must be edited later.
  interceptLlms(async (call) => {
    await new Promise((resolve) => setTimeout(resolve, 400));
    return { text: `ok(${call.prompt.split(' ')[0]})` };
  });
});

afterAll(async () => {
  await h?.close();
});

it('runs complete and every card shows its final state through Slack 429s and 500s, nothing posted twice', async () => {
  const startedAt = performance.now();
  h.stub.override('chat.postMessage', { kind: 'status', status: 500 }, 4);
  h.stub.override('chat.postMessage', { kind: 'ratelimit', retryAfterSeconds: 1 }, 2);
  h.stub.override('chat.update', { kind: 'ratelimit', retryAfterSeconds: 1 }, 4);
  h.stub.override('chat.update', { kind: 'status', status: 503 }, 4);

  for (let i = 0; i < RUNS; i++) {
    const ack = await h.command(`run two input-${i}`);
    expect(ack.status).toBe(200);
  }
  const runs = await waitFor(async () => {
    const rows = await h.core.db.prisma.workflowRun.findMany({ where: { workflowName: 'two' } });
    return rows.length === RUNS ? rows : undefined;
  });
  for (const run of runs) await waitForRun(h.core.db, run.id, ['completed'], 30_000);
  await h.settle();

  let notShown = 0;
  let postedTwice = 0;
  for (const run of runs) {
    const { parent, cards } = await h.thread(run.id);
    if (!visibleText(parent).includes('Completed')) notShown += 1;
    if (cards.length > 2) postedTwice += cards.length - 2;
    for (const card of cards) if (!/Completed/.test(visibleText(card))) notShown += 1;
    expect(cards).toHaveLength(2);
  }
  const parents = h.stub.messagesIn('C0RUNS').filter((m) => !m.threadTs);
  postedTwice += Math.max(0, parents.length - RUNS);

  const figures = await tally(
    h.core.db,
    runs.map((r) => r.id),
  );
  const stats = h.slack.publisher.stats();
  report(
    'Slack Web API 429/500',
    { ...figures, duplicates: figures.duplicates + postedTwice, lost: figures.lost + notShown },
    startedAt,
    `slack 429s ${stats.rateLimited} | final cards not shown ${notShown} | posted twice ${postedTwice}`,
  );
  // Both methods really were refused along the way.
  expect(stats.rateLimited).toBeGreaterThanOrEqual(6);
  expect(h.stub.callsOf('chat.update').length).toBeGreaterThan(8);
  expect(figures.completed).toBe(RUNS);
  expect(notShown).toBe(0);
  expect(postedTwice).toBe(0);
  expect(figures.duplicates).toBe(0);
  expect(figures.lost).toBe(0);
  h.expectAllPayloadsValid();
}, 90_000);
