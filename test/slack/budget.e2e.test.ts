import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, ALERT_RETRY_WITH_PATTERN } from '../../src/slack/views/index.js';
import { findByType, visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { LlmCall } from '../support/llm-answers.js';
import { type Harness, interceptLlms, PERSONAS_YML, startHarness } from '../support/slack-harness.js';
import { findElement } from '../support/slack-requests.js';

/**
 * Cost and budgets end to end (docs/control.md): every answered call is priced and the
 * totals show on the cards, the parent and `/workflow status`; a run with a $0.01 budget
 * pauses before the call that could cross it, with the reason in words, and its alert
 * offers cheaper models and "Raise this run's cap" (owners and admins only).
 *
 * Prices are set so the numbers are easy to follow: gpt-4o-mini costs $10 per million
 * tokens in and out, and a call may produce at most 100 tokens. The OpenAI stand-in answers
 * every call with 12 input and 7 output tokens: $0.00019 a call.
 */

const SPEND_YML = `name: spend
provider: openai
model: gpt-4o-mini
notify: C0ALERTS
owners: [U0OWNER]
budget: { per_run_usd: 0.01 }
steps:
  - name: small
    prompt: "Say hi"
  - name: big
    prompt: "{{input}}"
`;

let h: Harness;
let llm: LlmCall[];

beforeAll(async () => {
  h = await startHarness({
    workflows: { 'personas.yml': PERSONAS_YML, 'spend.yml': SPEND_YML },
    env: { MODEL_PRICES: 'openai/gpt-4o-mini=10:10', MAX_OUTPUT_TOKENS: '100' },
  });
  llm = interceptLlms((call) => ({ text: `ok ${call.prompt.length}` }));
});

afterEach(async () => {
  await h.reset();
});

afterAll(async () => {
  await h?.close();
});

const prisma = () => h.core.db.prisma;

describe('a budget of $0.01 per run', () => {
  it('prices every call and shows the totals; a small run completes under the cap', async () => {
    await h.command('run spend short');
    const run = await waitFor(() => prisma().workflowRun.findFirst({ where: { workflowName: 'spend' } }));
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    const attempts = await prisma().stepAttempt.findMany({ where: { runId: run.id } });
    // 12 in + 7 out at $10 per million: $0.00019 each, kept on the attempt row.
    expect(attempts.map((a) => a.costUsd)).toEqual([
      expect.closeTo(0.00019, 10),
      expect.closeTo(0.00019, 10),
    ]);
    const ledger = await prisma().budgetLedger.findUniqueOrThrow({
      where: { scope_day: { scope: `run:${run.id}`, day: '' } },
    });
    expect(ledger.spentUsd).toBeCloseTo(0.00038, 10);
    expect(ledger.reservedUsd).toBeCloseTo(0, 10);

    const { parent, cards } = await h.thread(run.id);
    expect(visibleText(parent)).toContain('24 in / 14 out tokens · $0.0004');
    expect(visibleText(parent)).toContain('cap $0.01');
    expect(visibleText(cards[0]!)).toContain('12 in / 7 out tokens · $0.0002');
    const status = JSON.stringify(await h.answer(await h.command(`status ${run.number}`)));
    expect(status).toContain('24 in / 14 out tokens · $0.0004');
    expect(status).toContain('openai/gpt-4o-mini · $0.0002');
  });

  it('pauses before the call that could cross it; cheaper models and a raised cap are offered', async () => {
    // "{{input}}" of 1,000 bytes: at most 1,032 tokens in and 100 out, up to $0.01132 — more
    // than the $0.00981 left after the first step.
    await h.command(`run spend ${'x'.repeat(1000)}`);
    const run = await waitFor(() => prisma().workflowRun.findFirst({ where: { workflowName: 'spend' } }));
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.settle();
    // One call only: the second was never made.
    expect(llm.filter((c) => c.prompt.startsWith('xxx'))).toEqual([]);
    const step = await prisma().runStep.findFirstOrThrow({ where: { runId: run.id, position: 1 } });
    expect(step.status).toBe('paused');
    expect(step.lastErrorKind).toBe('over_run_budget');
    expect(step.lastErrorMessage).toBe(
      "This run's cap is $0.01: $0.0002 spent. The next call to openai/gpt-4o-mini could cost up to $0.0113, so it was not made.",
    );
    expect(await prisma().stepAttempt.count({ where: { runStepId: step.id } })).toBe(0);

    const card = (await h.thread(run.id)).cards[1]!;
    expect(visibleText(card)).toContain('Paused before the next call: it could cross this run’s budget');
    expect(visibleText(card)).toContain('could cost up to $0.0113');

    const alert = h.stub.messagesIn('C0ALERTS').at(-1)!;
    expect(visibleText(alert)).toContain("This run's cap is $0.01");
    const buttons = findByType(alert.blocks, 'button').map((b) => (b.text as { text: string }).text);
    // Cheaper models first (by price), then the raise; gpt-4o-mini itself is not offered.
    expect(buttons[0]).toBe('Retry with openai/gpt-4.1-mini');
    expect(buttons).toContain("Raise this run's cap to $0.02");
    expect(buttons.some((b) => b.includes('gpt-4o-mini'))).toBe(false);

    // The starter is no owner: refused, nothing changed.
    const denied = await h.click(alert, ACTIONS.raiseBudget, { user: 'U0ALICE' });
    expect(JSON.stringify(await h.answer(denied))).toContain(
      "Only the workflow's owners and Switchboard admins",
    );
    expect((await prisma().workflowRun.findUniqueOrThrow({ where: { id: run.id } })).budgetUsd).toBe(0.01);
    // A forged value changes nothing either.
    const forged = await h.click(alert, ACTIONS.raiseBudget, { user: 'U0OWNER', value: 'not-this-step' });
    expect(JSON.stringify(await h.answer(forged))).toContain('not one this card offers');

    await h.click(alert, ACTIONS.raiseBudget, { user: 'U0OWNER' });
    const done = await waitForRun(h.core.db, run.id, ['completed']);
    expect(done.budgetUsd).toBe(0.02);
    expect(
      await prisma().auditEvent.findFirst({ where: { runId: run.id, action: 'run.budget' } }),
    ).toMatchObject({ actor: 'U0OWNER', fromValue: '0.01', toValue: '0.02' });
    // A second click on the same alert: the step is no longer paused on its cap.
    const again = await h.click(alert, ACTIONS.raiseBudget, { user: 'U0OWNER' });
    expect(JSON.stringify(await h.answer(again))).toContain('not paused on this run');
    expect((await prisma().workflowRun.findUniqueOrThrow({ where: { id: run.id } })).budgetUsd).toBe(0.02);
  });

  it('"Retry with" a cheaper model from the budget alert retries on it', async () => {
    await h.command(`run spend ${'y'.repeat(1000)}`);
    const run = await waitFor(() => prisma().workflowRun.findFirst({ where: { workflowName: 'spend' } }));
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.settle();
    const alert = h.stub.messagesIn('C0ALERTS').at(-1)!;
    const first = findElement(alert, ALERT_RETRY_WITH_PATTERN)!;
    expect(String(first.element.value)).toMatch(/\|openai\/gpt-4\.1-mini$/);
    await h.click(alert, ALERT_RETRY_WITH_PATTERN, { user: 'U0ALICE' });
    await waitForRun(h.core.db, run.id, ['completed']);
    expect(llm.at(-1)).toMatchObject({ provider: 'openai', model: 'gpt-4.1-mini' });
  });
});
