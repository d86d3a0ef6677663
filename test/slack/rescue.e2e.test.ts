import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, ALERT_RETRY_WITH_PATTERN, DEFAULT_PERSONA_VALUE } from '../../src/slack/views/index.js';
import { anthropicBilling } from '../support/anthropic-stub.js';
import { findByType, visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { LlmCall } from '../support/llm-answers.js';
import { type Harness, interceptLlms, startHarness } from '../support/slack-harness.js';
import { actionIds, findElement } from '../support/slack-requests.js';
import type { SlackMode } from '../support/slack-transport.js';

/**
 * The acceptance scenario of issue 3, end to end, in both ways Slack reaches the bot: signed
 * requests to Bolt's HTTP receiver, and envelopes over Socket Mode (the manifest's default).
 * The real provider SDKs (HTTP intercepted by nock) and the Slack Web API stub, which also
 * plays Slack's side of the socket.
 */

/** Provider answers wait while the test holds them: an ack that came back meanwhile did not wait for the work. */
function providerGate() {
  let release = () => {};
  let held: Promise<void> = Promise.resolve();
  return {
    wait: () => held,
    hold() {
      held = new Promise<void>((resolve) => {
        release = resolve;
      });
    },
    release: () => release(),
  };
}

describe.each<[SlackMode]>([['http'], ['socket']])('rescuing a run from Slack (%s)', (mode) => {
  let h: Harness;
  let llm: LlmCall[];
  const gate = providerGate();

  beforeAll(async () => {
    h = await startHarness({ mode });
    llm = interceptLlms(async (call) => {
      await gate.wait();
      if (call.provider === 'anthropic') return anthropicBilling();
      return { text: `ok from ${call.model}: ${call.prompt.split('\n').at(-1)}` };
    });
  });

  afterAll(async () => {
    gate.release();
    await h?.close();
  });

  it('pauses on an Anthropic billing error, alerts the team, and completes after switching to OpenAI with another persona', async () => {
    // The first provider answer is held until the command's ack is back: an ack that waited
    // for the work would never come (Slack wants it within 3 s, whatever the provider does).
    gate.hold();
    const ack = await h.command('run release-notes Fixed login; added dark mode');
    expect(ack.status).toBe(200);
    expect(ack.text).toBe('');

    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'release-notes' } }),
    );
    // The work goes on after the ack: the first step is in the provider's hands, and held there.
    await waitFor(() => llm.length === 1, 10_000, 'the first provider call');
    const first = await h.core.db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id, position: 0 } });
    expect(first.status).toBe('running');
    gate.release();
    const paused = await waitForRun(h.core.db, run.id, ['paused']);
    expect(paused.status).toBe('paused');
    await h.settle();

    // A thread: the parent in the channel, one card per step in its thread.
    const { parent, cards, notes } = await h.thread(run.id);
    expect(parent.channel).toBe('C0RUNS');
    expect(parent.threadTs).toBeUndefined();
    expect(cards).toHaveLength(3);
    expect(visibleText(parent)).toContain('release-notes · run #');
    expect(visibleText(parent)).toContain('Paused');
    expect(actionIds(parent)).toEqual([ACTIONS.runMore, ACTIONS.runResume, ACTIONS.runCancel]);

    // The paused card (step 2) offers the menus and Retry; the completed and pending ones are read-only
    // except the pending step, which may still be changed.
    const [summarize, draft, polish] = cards as [typeof parent, typeof parent, typeof parent];
    expect(findByType(summarize.blocks, 'static_select')).toHaveLength(0);
    expect(visibleText(summarize)).toContain('Completed');
    expect(visibleText(summarize)).toContain('openai · gpt-4o-mini · persona: tech-writer');
    expect(findByType(draft.blocks, 'static_select')).toHaveLength(2);
    expect(actionIds(draft)).toEqual([ACTIONS.selectModel, ACTIONS.selectPersona, ACTIONS.retry]);
    expect(visibleText(draft)).toContain('Anthropic: credit balance too low — billing');
    expect(findByType(polish.blocks, 'static_select')).toHaveLength(2); // pending: still editable
    expect(actionIds(polish)).not.toContain(ACTIONS.retry);

    // The model menu offers only configured providers (OpenAI, Anthropic; no Gemini key).
    const modelMenu = findElement(draft, ACTIONS.selectModel)!.element as {
      option_groups: { label: { text: string }; options: { value: string }[] }[];
    };
    expect(modelMenu.option_groups.map((g) => g.label.text)).toEqual(['OpenAI', 'Anthropic']);

    // The alert reached the workflow's notify channel, with a link to the thread and one-click retries.
    const alert = h.stub.messagesIn('C0ALERTS')[0]!;
    expect(alert).toBeDefined();
    expect(visibleText(alert)).toContain('Anthropic: credit balance too low — billing');
    expect(visibleText(alert)).toContain(
      `https://test.slack.com/archives/C0RUNS/p${parent.ts.replace('.', '')}`,
    );
    expect(findElement(alert, ALERT_RETRY_WITH_PATTERN)?.element.value).toMatch(/\|openai\/gpt-4o-mini$/);
    // …and a note in the run thread.
    expect(notes.map((n) => visibleText(n)).join('\n')).toContain('paused');

    // Switch the paused step to OpenAI and persona "marketing" from the card, then Retry.
    const marketing = await h.core.db.prisma.persona.findUniqueOrThrow({ where: { name: 'marketing' } });
    const switchModel = await h.click(draft, ACTIONS.selectModel, {
      user: 'U0ALICE',
      option: 'openai/gpt-4o',
    });
    expect(switchModel.status).toBe(200);
    await h.settle();
    const afterModel = (await h.thread(run.id)).cards[1]!;
    const switchPersona = await h.click(afterModel, ACTIONS.selectPersona, {
      user: 'U0ALICE',
      option: marketing.id,
    });
    expect(switchPersona.status).toBe(200);
    await h.settle();
    const afterPersona = (await h.thread(run.id)).cards[1]!;
    expect(visibleText(afterPersona)).toContain('gpt-4o');
    expect(
      h.stub.responses.filter((r) => r.id === switchModel.responseId || r.id === switchPersona.responseId),
    ).toEqual([]);
    // Retry is acked while the retried step's provider answer is held, as the command was.
    const callsBeforeRetry = llm.length;
    gate.hold();
    const retry = await h.click(afterPersona, ACTIONS.retry, { user: 'U0ALICE' });
    expect(retry.status).toBe(200);
    await waitFor(() => llm.length > callsBeforeRetry, 10_000, 'the retried step to reach the provider');
    expect((await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).not.toBe(
      'completed',
    );
    gate.release();

    const done = await waitForRun(h.core.db, run.id, ['completed']);
    expect(done.status).toBe('completed');
    await h.settle();

    // The OpenAI request for the retried step carried persona X's system prompt.
    const draftCall = llm.find((c) => c.provider === 'openai' && c.prompt.startsWith('Write release notes'));
    expect(draftCall?.model).toBe('gpt-4o');
    expect(draftCall?.system).toBe(marketing.system);

    // Finished cards show no menus, only the facts.
    const final = await h.thread(run.id);
    for (const card of final.cards) {
      expect(findByType(card.blocks, 'static_select')).toEqual([]);
      expect(visibleText(card)).toContain('Completed');
    }
    expect(visibleText(final.cards[1]!)).toContain('openai · gpt-4o · persona: marketing');
    expect(visibleText(final.parent)).toContain('Completed');
    expect(actionIds(final.parent)).toEqual([ACTIONS.runMore]);

    // The alert now says it recovered, who switched to what, and who answered.
    const recovered = h.stub.messages.get(`${alert.channel}:${alert.ts}`)!;
    expect(visibleText(recovered)).toContain('recovered');
    expect(visibleText(recovered)).toContain(
      '<@U0ALICE> switched the step to `openai/gpt-4o` and persona marketing',
    );
    expect(visibleText(recovered)).toContain('Answered by `openai/gpt-4o`');
    expect(findByType(recovered.blocks, 'button')).toEqual([]);

    // The audit trail records the switch.
    const audit = await h.core.db.prisma.auditEvent.findMany({
      where: { runId: run.id, actor: 'U0ALICE' },
      orderBy: { createdAt: 'asc' },
    });
    expect(audit.map((a) => [a.action, a.fromValue, a.toValue])).toEqual([
      ['run.start', null, 'slash'],
      ['step.model', null, 'openai/gpt-4o'],
      ['step.persona', null, 'marketing'],
      ['step.retry', 'paused', 'pending'],
    ]);

    h.expectAllPayloadsValid();
    expect(DEFAULT_PERSONA_VALUE).toBe('__default__');
  });
});
