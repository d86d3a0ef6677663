import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ACTIONS, ALERT_RETRY_WITH_PATTERN } from '../../src/slack/views/index.js';
import { anthropicBilling } from '../support/anthropic-stub.js';
import { findByType, visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import { type CommandResult, type Harness, interceptLlms, startHarness } from '../support/slack-harness.js';
import {
  actionIds,
  clickPayload,
  interactionBody,
  postSigned,
  SIGNING_SECRET,
} from '../support/slack-requests.js';

/**
 * Clicks on cards, parent messages and alerts, as signed block_actions. Refusals must leave
 * the database exactly as it was.
 */

let h: Harness;
let runId: string;
let gate: Promise<void> = Promise.resolve();
const LONG = `${'All the details. '.repeat(300)}The end.`;

beforeAll(async () => {
  h = await startHarness();
  interceptLlms(async (call) => {
    await gate;
    if (call.provider === 'anthropic') return anthropicBilling();
    return { text: call.prompt.startsWith('Summarize') ? LONG : `ok from ${call.model}` };
  });
});

/** Every test starts with release-notes run paused on step 2 (Anthropic billing). */
beforeEach(async () => {
  h.stub.reset();
  await h.command('run release-notes v2.3.0 changes');
  const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({ orderBy: { number: 'desc' } }));
  runId = run.id;
  await waitForRun(h.core.db, runId, ['paused']);
  await h.settle();
});

afterEach(async () => {
  gate = Promise.resolve();
  await h.reset();
});

afterAll(async () => {
  await h?.close();
});

/** Every row the bot's actions could touch, for before/after comparisons. */
async function rows() {
  const p = h.core.db.prisma;
  const byId = { orderBy: { id: 'asc' as const } };
  return {
    runs: await p.workflowRun.findMany(byId),
    steps: await p.runStep.findMany(byId),
    audit: await p.auditEvent.findMany(byId),
    attempts: await p.stepAttempt.findMany(byId),
  };
}

const draftCard = async () => (await h.thread(runId)).cards[1]!;

async function expectRefused(click: CommandResult, words: string, before: Awaited<ReturnType<typeof rows>>) {
  const body = await h.answer(click);
  expect(body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
  expect(visibleText(body)).toContain(words);
  await h.settle();
  expect(await rows()).toEqual(before);
}

describe('refusals leave the database unchanged', () => {
  it('refuses a forged provider/model value', async () => {
    const before = await rows();
    const card = await draftCard();
    const invented = await h.click(card, ACTIONS.selectModel, { user: 'U0ALICE', option: 'openai/gpt-evil' });
    await expectRefused(invented, 'openai/gpt-evil is not an available model', before);
    // Known model, but Google has no API key here: not offered, so not accepted either.
    const unconfigured = await h.click(card, ACTIONS.selectModel, {
      user: 'U0ALICE',
      option: 'google/gemini-2.5-flash',
    });
    await expectRefused(unconfigured, 'is not an available model', before);
    const garbage = await h.click(card, ACTIONS.selectModel, { user: 'U0ALICE', option: 'no slash here' });
    await expectRefused(garbage, 'not one this card offers', before);
  });

  it('answers a signed click it cannot read (no block_id) and changes nothing', async () => {
    const before = await rows();
    const payload = clickPayload(await draftCard(), ACTIONS.selectModel, {
      user: 'U0ALICE',
      option: 'openai/gpt-4o',
      responseUrl: h.stub.responseUrl('unreadable-click'),
    }) as { actions: Record<string, unknown>[] };
    delete payload.actions[0]!.block_id;
    const click = await postSigned(h.eventsUrl, interactionBody(payload), SIGNING_SECRET);
    expect(click.status).toBe(200);
    await expectRefused(
      { ...click, responseId: 'unreadable-click' },
      'Slack sent something I could not read, so nothing was changed.',
      before,
    );
  });

  it('refuses a forged persona id', async () => {
    const before = await rows();
    const forged = await h.click(await draftCard(), ACTIONS.selectPersona, {
      user: 'U0ALICE',
      option: 'cl0000000000forgedpersona',
    });
    await expectRefused(forged, 'That persona does not exist', before);
  });

  it('refuses a click on a stale card and redraws it', async () => {
    const stale = await draftCard();
    const first = await h.click(stale, ACTIONS.selectModel, { user: 'U0ALICE', option: 'openai/gpt-4o' });
    expect(first.status).toBe(200);
    await h.settle();
    expect(h.stub.responsesTo(first.responseId)).toEqual([]);
    const before = await rows();
    const updatesBefore = h.stub.callsOf('chat.update').length;

    // A second person still looking at the old card picks another model.
    const late = await h.click(stale, ACTIONS.selectModel, {
      user: 'U0OWNER',
      option: 'anthropic/claude-sonnet-4-5',
    });
    await expectRefused(late, 'This card was out of date', before);
    // …and a replayed Retry from the old card does not run the step.
    const replay = await h.click(stale, ACTIONS.retry, { user: 'U0ALICE' });
    await expectRefused(replay, 'This card was out of date', before);
    expect(h.stub.callsOf('chat.update').length).toBeGreaterThan(updatesBefore);
    expect(visibleText(await draftCard())).toContain('gpt-4o');
  });

  it('refuses someone who is neither the starter, an owner nor an admin', async () => {
    const before = await rows();
    const card = await draftCard();
    const retry = await h.click(card, ACTIONS.retry, { user: 'U0MALLORY' });
    await expectRefused(retry, "You can't change run", before);
    const model = await h.click(card, ACTIONS.selectModel, { user: 'U0MALLORY', option: 'openai/gpt-4o' });
    await expectRefused(model, "You can't change run", before);
    const { parent } = await h.thread(runId);
    const cancel = await h.click(parent, ACTIONS.runCancel, { user: 'U0MALLORY' });
    await expectRefused(cancel, "You can't change run", before);
    const alert = h.stub.messagesIn('C0ALERTS')[0]!;
    const oneClick = await h.click(alert, ALERT_RETRY_WITH_PATTERN, { user: 'U0MALLORY' });
    await expectRefused(oneClick, "You can't change run", before);
  });

  it('refuses a button whose value does not match its card', async () => {
    const before = await rows();
    const other = (await h.thread(runId)).cards[0]!;
    const forged = await h.click(await draftCard(), ACTIONS.retry, { user: 'U0ALICE', value: other.ts });
    await expectRefused(forged, 'not one this card offers', before);
  });
});

describe('who may act', () => {
  it('lets the workflow owner and an admin switch the step', async () => {
    const owner = await h.click(await draftCard(), ACTIONS.selectModel, {
      user: 'U0OWNER',
      option: 'openai/gpt-4o',
    });
    await h.settle();
    const marketing = await h.core.db.prisma.persona.findUniqueOrThrow({ where: { name: 'marketing' } });
    const admin = await h.click(await draftCard(), ACTIONS.selectPersona, {
      user: 'U0ADMIN',
      option: marketing.id,
    });
    await h.settle();
    expect(h.stub.responsesTo(owner.responseId)).toEqual([]);
    expect(h.stub.responsesTo(admin.responseId)).toEqual([]);
    const audit = await h.core.db.prisma.auditEvent.findMany({
      where: { runId, action: { in: ['step.model', 'step.persona'] } },
      orderBy: { createdAt: 'asc' },
    });
    expect(audit.map((a) => [a.actor, a.action, a.toValue])).toEqual([
      ['U0OWNER', 'step.model', 'openai/gpt-4o'],
      ['U0ADMIN', 'step.persona', 'marketing'],
    ]);
    expect(visibleText(await draftCard())).toContain('persona');
  });
});

describe('alerts', () => {
  it('"Retry with" switches the paused step and retries it in one click', async () => {
    const alert = h.stub.messagesIn('C0ALERTS')[0]!;
    const buttons = findByType(alert.blocks, 'button').map((b) => (b.text as { text: string }).text);
    expect(buttons).toEqual(['Retry with openai/gpt-4o-mini']);
    const click = await h.click(alert, ALERT_RETRY_WITH_PATTERN, { user: 'U0OWNER' });
    expect(click.status).toBe(200);
    await waitForRun(h.core.db, runId, ['completed']);
    await h.settle();
    const audit = await h.core.db.prisma.auditEvent.findMany({
      where: { runId, actor: 'U0OWNER' },
      orderBy: { createdAt: 'asc' },
    });
    expect(audit.map((a) => a.action)).toEqual(['step.model', 'step.retry']);
    const edited = h.stub.messages.get(`${alert.channel}:${alert.ts}`)!;
    expect(visibleText(edited)).toContain('<@U0OWNER> switched the step to `openai/gpt-4o-mini`');
    // A second click on the old alert finds nothing to retry.
    const before = await rows();
    const again = await h.click(alert, ALERT_RETRY_WITH_PATTERN, { user: 'U0OWNER' });
    await expectRefused(again, 'is completed now', before);
  });

  it('says so on the alert when the run is cancelled instead of rescued', async () => {
    const { parent } = await h.thread(runId);
    expect(actionIds(parent)).toEqual([ACTIONS.runMore, ACTIONS.runResume, ACTIONS.runCancel]);
    await h.click(parent, ACTIONS.runCancel, { user: 'U0ALICE' });
    await waitForRun(h.core.db, runId, ['cancelled']);
    await h.settle();
    const alert = h.stub.messagesIn('C0ALERTS')[0]!;
    expect(visibleText(alert)).toContain('was cancelled before it recovered');
    expect(findByType(alert.blocks, 'button')).toEqual([]);
    const final = await h.thread(runId);
    expect(actionIds(final.parent)).toEqual([ACTIONS.runMore]);
    for (const card of final.cards) expect(findByType(card.blocks, 'static_select')).toEqual([]);
  });
});

describe('run controls and output', () => {
  it('Resume retries the paused step; Pause stops a running run after its step', async () => {
    let release!: () => void;
    gate = new Promise((resolve) => {
      release = resolve;
    });
    const { parent } = await h.thread(runId);
    await h.click(parent, ACTIONS.runResume, { user: 'U0ALICE' });
    await waitFor(
      async () =>
        (await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: runId } })).status === 'running',
    );
    await h.settle();
    const running = (await h.thread(runId)).parent;
    expect(actionIds(running)).toEqual([ACTIONS.runMore, ACTIONS.runPause, ACTIONS.runCancel]);
    await h.click(running, ACTIONS.runPause, { user: 'U0ALICE' });
    // The pause lands while the step is still held by the provider; only then may it answer.
    await waitForRun(h.core.db, runId, ['paused']);
    release();
    // The step in flight still finishes (here: Anthropic's billing error again), and the run stays paused.
    const held = await waitFor(() =>
      h.core.db.prisma.runStep.findFirst({ where: { runId, position: 1, status: { not: 'running' } } }),
    );
    expect(held.status).toBe('paused');
    await h.settle();
    expect((await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: runId } })).status).toBe(
      'paused',
    );
    const audit = await h.core.db.prisma.auditEvent.findMany({
      where: { runId, actor: 'U0ALICE' },
      orderBy: { createdAt: 'asc' },
    });
    expect(audit.map((a) => a.action)).toEqual(['run.start', 'run.resume', 'run.pause']);
  });

  it('opens the full output of a long step in a modal', async () => {
    const summary = (await h.thread(runId)).cards[0]!;
    expect(actionIds(summary)).toContain(ACTIONS.viewOutput);
    const click = await h.click(summary, ACTIONS.viewOutput, { user: 'U0MALLORY' });
    expect(click.status).toBe(200);
    const open = await waitFor(() => h.stub.callsOf('views.open')[0], 5000, 'views.open');
    const view = open.body.view as { blocks: unknown[] };
    expect(open.body.trigger_id).toMatch(/^trigger\./);
    const text = visibleText({ blocks: view.blocks });
    expect(text).toContain('The end.');
    expect(text.replace(/\n/g, '')).toContain(LONG.trim().slice(0, 2000));
  });
});
