import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS } from '../../src/slack/views/index.js';
import { anthropicBilling } from '../support/anthropic-stub.js';
import { visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { LlmCall } from '../support/llm-answers.js';
import type { StubMessage } from '../support/slack-api-stub.js';
import { type Harness, interceptLlms, startHarness } from '../support/slack-harness.js';

/**
 * Three papercuts of the run thread (issue 12), each through signed requests against Bolt
 * and the Web API stand-in: Retry pressed a moment after a menu choice, the pause note after
 * the step recovers, and the name of the schedule that started a run.
 */

const STALE = 'This card was out of date';

describe('the run thread', () => {
  let h: Harness;
  let llm: LlmCall[];
  /** Anthropic answers with a billing error while this holds (step 2 "draft" pauses). */
  let anthropicFails = true;

  beforeAll(async () => {
    h = await startHarness();
    llm = interceptLlms((call) =>
      call.provider === 'anthropic' && anthropicFails
        ? anthropicBilling()
        : { text: `answer from ${call.provider}/${call.model}` },
    );
  });

  afterEach(async () => {
    anthropicFails = true;
    await h.reset();
  });

  afterAll(async () => {
    await h?.close();
  });

  /** A release-notes run whose step 2 (draft, on Anthropic) paused; its cards as Slack shows them. */
  async function pausedRun() {
    await h.command('run release-notes Fixed login');
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'release-notes' } }),
    );
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.settle();
    const thread = await h.thread(run.id);
    return { run, draft: thread.cards[1]!, thread };
  }

  const draftRow = (runId: string) =>
    h.core.db.prisma.runStep.findFirstOrThrow({ where: { runId, position: 1 } });
  const answerOf = (response: { responseId: string }) =>
    h.stub
      .responsesTo(response.responseId)
      .map((r) => JSON.stringify(r.body))
      .join('\n');

  describe('Retry right after choosing a model or persona', () => {
    it('applies what the person sees selected, with the retry, even before the card was redrawn', async () => {
      const { run, draft } = await pausedRun();
      const marketing = await h.core.db.prisma.persona.findUniqueOrThrow({ where: { name: 'marketing' } });
      // The choice and Retry on the same card as drawn: the redraw after the choice has not
      // come yet (Slack sends the menus as the person sees them with the click).
      const choose = await h.click(draft, ACTIONS.selectModel, { user: 'U0ALICE', option: 'openai/gpt-4o' });
      const retry = await h.click(draft, ACTIONS.retry, {
        user: 'U0ALICE',
        selected: { [ACTIONS.selectModel]: 'openai/gpt-4o', [ACTIONS.selectPersona]: marketing.id },
      });
      expect(choose.status).toBe(200);
      expect(retry.status).toBe(200);
      await waitForRun(h.core.db, run.id, ['completed']);
      await h.settle();
      expect(answerOf(retry)).not.toContain(STALE);
      const step = await draftRow(run.id);
      expect([step.answeredProvider, step.answeredModel, step.overridePersonaId]).toEqual([
        'openai',
        'gpt-4o',
        marketing.id,
      ]);
      const call = llm.find((c) => c.prompt.startsWith('Write release notes') && c.provider === 'openai');
      expect(call?.system).toBe(marketing.system);
      // Retried once.
      const retries = await h.core.db.prisma.auditEvent.count({
        where: { runId: run.id, runStepId: step.id, action: 'step.retry' },
      });
      expect(retries).toBe(1);
    });

    it('a menu choice a moment before, already saved, is no reason to refuse the card', async () => {
      const { run, draft } = await pausedRun();
      await h.click(draft, ACTIONS.selectModel, { user: 'U0ALICE', option: 'openai/gpt-4o-mini' });
      await waitFor(async () => (await draftRow(run.id)).overrideModel === 'gpt-4o-mini');
      // Retry on the card as it was drawn before that choice (the redraw is not there yet).
      const retry = await h.click(draft, ACTIONS.retry, {
        user: 'U0ALICE',
        selected: { [ACTIONS.selectModel]: 'openai/gpt-4o-mini' },
      });
      await waitForRun(h.core.db, run.id, ['completed']);
      await h.settle();
      expect(answerOf(retry)).not.toContain(STALE);
      expect((await draftRow(run.id)).answeredModel).toBe('gpt-4o-mini');
    });

    it('still refuses a card whose step someone else changed meanwhile', async () => {
      const { run, draft } = await pausedRun();
      // The workflow's owner switches the persona from their client; Alice's card still shows the old one.
      const marketing = await h.core.db.prisma.persona.findUniqueOrThrow({ where: { name: 'marketing' } });
      await h.click(draft, ACTIONS.selectPersona, { user: 'U0OWNER', option: marketing.id });
      await waitFor(async () => (await draftRow(run.id)).overridePersonaId === marketing.id);
      const before = await draftRow(run.id);
      const retry = await h.click(draft, ACTIONS.retry, { user: 'U0ALICE' });
      await h.settle();
      expect(answerOf(retry)).toContain(STALE);
      const after = await draftRow(run.id);
      expect([after.status, after.version]).toEqual(['paused', before.version]);
    });

    it('still refuses a card of an earlier pause (retried and paused again since)', async () => {
      const { run, draft } = await pausedRun();
      const first = await draftRow(run.id);
      await h.click(draft, ACTIONS.retry, { user: 'U0ALICE' });
      await waitFor(async () => (await draftRow(run.id)).version > first.version, 10_000, 'the retry');
      await waitForRun(h.core.db, run.id, ['paused']);
      await waitFor(async () => (await draftRow(run.id)).attempts >= 2, 10_000, 'the second pause');
      await h.settle();
      const before = await draftRow(run.id);
      const again = await h.click(draft, ACTIONS.retry, { user: 'U0ALICE' });
      await h.settle();
      expect(answerOf(again)).toContain(STALE);
      const after = await draftRow(run.id);
      expect([after.status, after.version]).toEqual(['paused', before.version]);
    });
  });

  describe('the pause note in the thread', () => {
    it('says the step recovered once it did, and no longer asks for a Retry', async () => {
      const { run, thread } = await pausedRun();
      const note = thread.notes.find((n) => visibleText(n).includes('press *Retry*'))!;
      expect(visibleText(note)).toContain('Step 2/3 draft');
      anthropicFails = false;
      const { draft } = { draft: (await h.thread(run.id)).cards[1]! };
      await h.click(draft, ACTIONS.retry, { user: 'U0ALICE' });
      await waitForRun(h.core.db, run.id, ['completed']);
      await h.settle();
      const now = h.stub.messages.get(`${note.channel}:${note.ts}`)!;
      expect(visibleText(now)).not.toContain('Retry');
      expect(visibleText(now)).toContain('recovered');
      expect(visibleText(now)).toContain('anthropic/claude-haiku-4-5');
    });

    it('says the step ended without recovering when its run is cancelled', async () => {
      const { run, thread } = await pausedRun();
      const note = thread.notes.find((n) => visibleText(n).includes('press *Retry*'))!;
      await h.click(thread.parent, ACTIONS.runCancel, { user: 'U0ALICE' });
      await waitForRun(h.core.db, run.id, ['cancelled']);
      await h.settle();
      const now = h.stub.messages.get(`${note.channel}:${note.ts}`)!;
      expect(visibleText(now)).not.toContain('Retry');
      expect(visibleText(now)).toContain('cancelled before it recovered');
    });
  });

  describe('a scheduled run’s parent message', () => {
    it('names its schedule as /workflow schedule list does: number, workflow, cron, time zone', async () => {
      const added = await h.command('schedule add release-notes "0 9 * * 1-5" Europe/Berlin weekly notes', {
        user: 'U0OWNER',
      });
      expect(added.status).toBe(200);
      const schedule = await waitFor(() => h.core.db.prisma.schedule.findFirst());
      // As the scheduler starts it (src/schedules/scheduler.ts).
      anthropicFails = false;
      const run = await h.core.engine.runs.startRun({
        workflow: 'release-notes',
        input: 'weekly notes',
        startedBy: `schedule:${schedule.id}`,
        trigger: 'schedule',
        channelId: 'C0RUNS',
      });
      await waitForRun(h.core.db, run.id, ['completed']);
      await h.settle();
      const { parent } = await h.thread(run.id);
      const text = visibleText(parent as StubMessage);
      expect(text).toContain(
        `Started by schedule \`#${schedule.number}\` (*release-notes* \`0 9 * * 1-5\` Europe/Berlin)`,
      );
      expect(text).not.toContain(schedule.id);
      expect(text).not.toContain('on schedule');
    });
  });
});
