import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS, CALLBACKS } from '../../src/slack/views/index.js';
import { findByType, visibleText } from '../support/block-kit.js';
import { TestClock } from '../support/clock.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { LlmCall } from '../support/llm-answers.js';
import { type Harness, interceptLlms, PERSONAS_YML, startHarness } from '../support/slack-harness.js';
import { actionIds, type StubView } from '../support/slack-requests.js';

/**
 * Approval gates end to end (docs/control.md), through Bolt's HTTP receiver with signed
 * requests, the real OpenAI SDK (nock) and a real database: a gated step waits, is
 * rejected, switched to another model, retried, edited and approved, and the run completes;
 * a timeout escalates to the alert channel, or fails the run. Every refusal changes nothing.
 */

const GATED_YML = `name: gated
description: Draft, approve, publish
provider: openai
model: gpt-4o-mini
notify: C0ALERTS
owners: [U0OWNER]
steps:
  - name: draft
    prompt: "Draft:\\n{{input}}"
    approval:
      users: [U0BOB]
      usergroup: S0REVIEW
      timeout_minutes: 30
  - name: publish
    prompt: "Publish:\\n{{previous.output}}"
`;

const STRICT_YML = `name: strict
provider: openai
model: gpt-4o-mini
owners: [U0OWNER]
steps:
  - name: only
    prompt: "{{input}}"
    approval: { starter: true, timeout_minutes: 10, on_timeout: fail }
  - name: after
    prompt: "{{previous.output}}"
`;

const clock = new TestClock({ realTime: true, sleeps: 'skip' });
let h: Harness;
let llm: LlmCall[];

beforeAll(async () => {
  h = await startHarness({
    workflows: { 'personas.yml': PERSONAS_YML, 'gated.yml': GATED_YML, 'strict.yml': STRICT_YML },
    clock,
  });
  llm = interceptLlms((call) => ({ text: `${call.model} says: ${call.prompt.split('\n').at(-1)}` }));
});

afterEach(async () => {
  await h.reset();
});

afterAll(async () => {
  await h?.close();
});

const prisma = () => h.core.db.prisma;
const stepOf = (runId: string, position: number) =>
  prisma().runStep.findFirstOrThrow({ where: { runId, position } });
const errorsOf = (ack: { json: Record<string, unknown> | undefined }) =>
  (ack.json?.errors ?? {}) as Record<string, string>;
const viewsOf = (callbackId: string) =>
  [...h.stub.views.values()].filter((v) => v.callback_id === callbackId);

/** Clicks a button that opens a modal, and returns the modal once Slack has it. */
async function openModal(
  message: Parameters<Harness['click']>[0],
  actionId: string,
  user: string,
  callbackId: string,
): Promise<StubView> {
  const before = viewsOf(callbackId).length;
  await h.click(message, actionId, { user });
  return waitFor(() => viewsOf(callbackId)[before], 5000, `the ${callbackId} modal`);
}

async function startGated(input = 'v2: dark mode') {
  await h.command(`run gated ${input}`);
  const run = await waitFor(() => prisma().workflowRun.findFirst({ where: { workflowName: 'gated' } }));
  await waitForRun(h.core.db, run.id, ['awaiting_approval']);
  await h.settle();
  return run;
}

describe('an approval gate', () => {
  it('waits, is rejected, switched to another model, retried, edited and approved; the run completes', async () => {
    const run = await startGated();
    const { parent, cards, notes } = await h.thread(run.id);
    const draft = cards[0]!;

    // The run waits with the step: the parent offers only Cancel; the card shows the output and the decision.
    expect(visibleText(parent)).toContain('Awaiting approval');
    expect(actionIds(parent)).toEqual([ACTIONS.runMore, ACTIONS.runCancel]);
    expect(visibleText(draft)).toContain('Awaiting approval');
    expect(visibleText(draft)).toContain('gpt-4o-mini says: v2: dark mode');
    expect(visibleText(draft)).toContain('Waiting for approval* from <@U0BOB> or <!subteam^S0REVIEW>');
    expect(actionIds(draft)).toEqual([ACTIONS.approve, ACTIONS.approveEdit, ACTIONS.approveReject]);
    // No model menus on a step awaiting approval (menus only while pending or paused).
    expect(findByType(draft.blocks, 'static_select')).toEqual([]);
    // The approvers are told with a mention in the thread; the publish step has not run.
    expect(notes.map((n) => visibleText(n)).join('\n')).toContain(
      '<@U0BOB> or <!subteam^S0REVIEW>: *Step 1/2',
    );
    expect(llm).toHaveLength(1);

    // The starter is not an approver: refused, nothing changed.
    const denied = await h.click(draft, ACTIONS.approve, { user: 'U0ALICE' });
    expect(JSON.stringify(await h.answer(denied))).toContain('Only <@U0BOB> or <!subteam^S0REVIEW>');
    expect((await stepOf(run.id, 0)).status).toBe('awaiting_approval');

    // Reject… opens a modal; an empty reason is refused and changes nothing.
    const reject = await openModal(draft, ACTIONS.approveReject, 'U0BOB', CALLBACKS.approvalReject);
    expect(errorsOf(await h.submitView(reject, { user: 'U0BOB', inputs: { reason: '   ' } }))).toEqual({
      reason: 'Say why the output is rejected. Nothing was changed.',
    });
    expect((await stepOf(run.id, 0)).status).toBe('awaiting_approval');
    // Someone outside the gate cannot reject through the modal either.
    expect(
      errorsOf(await h.submitView(reject, { user: 'U0EVE', inputs: { reason: 'no' } })).reason,
    ).toContain('Only @U0BOB');
    const rejected = await h.submitView(reject, {
      user: 'U0BOB',
      inputs: { reason: 'Too vague: name the features' },
    });
    expect(rejected.json).toBeUndefined();
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.settle();

    // The rejected step pauses with its menus and Retry; the reason is on the card; no failure alert.
    let card = (await h.thread(run.id)).cards[0]!;
    expect(visibleText(card)).toContain('Output rejected');
    expect(visibleText(card)).toContain('Too vague: name the features');
    expect(actionIds(card)).toEqual([ACTIONS.selectModel, ACTIONS.selectPersona, ACTIONS.retry]);
    expect(h.stub.messagesIn('C0ALERTS')).toEqual([]);

    // Switch to another model and retry: a new output, waiting for approval again.
    await h.click(card, ACTIONS.selectModel, { user: 'U0ALICE', option: 'openai/gpt-4o' });
    await h.settle();
    card = (await h.thread(run.id)).cards[0]!;
    await h.click(card, ACTIONS.retry, { user: 'U0ALICE' });
    await waitForRun(h.core.db, run.id, ['awaiting_approval']);
    await h.settle();
    expect(llm.map((c) => c.model)).toEqual(['gpt-4o-mini', 'gpt-4o']);
    card = (await h.thread(run.id)).cards[0]!;
    expect(visibleText(card)).toContain('gpt-4o says: v2: dark mode');

    // Edit…: an empty output is refused; an edit becomes the step's output, with an audit row.
    const edit = await openModal(card, ACTIONS.approveEdit, 'U0BOB', CALLBACKS.approvalEdit);
    expect(errorsOf(await h.submitView(edit, { user: 'U0BOB', inputs: { output: '' } }))).toEqual({
      output: 'The output must not be empty. Nothing was changed.',
    });
    expect(
      (await h.submitView(edit, { user: 'U0BOB', inputs: { output: 'Dark mode, by Bob' } })).json,
    ).toBeUndefined();
    await h.settle();
    expect((await stepOf(run.id, 0)).output).toBe('Dark mode, by Bob');
    // The modal was opened from an older card: submitting it again is stale, nothing changes.
    expect(
      errorsOf(await h.submitView(edit, { user: 'U0BOB', inputs: { output: 'again' } })).output,
    ).toContain('changed since this was opened');

    // An old card (before the edit) is refused as stale.
    const stale = await h.click(card, ACTIONS.approve, { user: 'U0BOB' });
    expect(JSON.stringify(await h.answer(stale))).toContain('out of date');
    expect((await stepOf(run.id, 0)).status).toBe('awaiting_approval');

    // A member of the user group approves — twice at once, from two clients: one effect.
    h.stub.usergroups.set('S0REVIEW', ['U0CAROL']);
    card = (await h.thread(run.id)).cards[0]!;
    const [first, second] = await Promise.all([
      h.click(card, ACTIONS.approve, { user: 'U0CAROL' }),
      h.click(card, ACTIONS.approve, { user: 'U0BOB' }),
    ]);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    const done = await waitForRun(h.core.db, run.id, ['completed']);
    expect(done.status).toBe('completed');
    await h.settle();
    const approvals = await prisma().auditEvent.findMany({
      where: { runId: run.id, action: 'step.approve' },
    });
    expect(approvals).toHaveLength(1);
    // The next step read the approved (edited) output.
    expect(llm.at(-1)!.prompt).toBe('Publish:\nDark mode, by Bob');
    expect(h.stub.callsOf('usergroups.users.list').map((c) => c.body.usergroup)).toContain('S0REVIEW');

    // The trail tells the story.
    const trail = await prisma().auditEvent.findMany({
      where: { runId: run.id, action: { startsWith: 'step.' } },
      orderBy: { createdAt: 'asc' },
    });
    expect(trail.map((a) => a.action)).toEqual([
      'step.reject',
      'step.model',
      'step.retry',
      'step.output_edit',
      'step.approve',
    ]);
    expect(trail[3]).toMatchObject({
      actor: 'U0BOB',
      fromValue: 'gpt-4o says: v2: dark mode',
      toValue: 'Dark mode, by Bob',
    });
    const final = await h.thread(run.id);
    expect(visibleText(final.parent)).toContain('Completed');
    expect(final.notes.map((n) => visibleText(n)).join('\n')).toContain('rejected the output');
  });

  it('escalates to the alert channel after its timeout; the owners may then approve', async () => {
    const run = await startGated('timeout test');
    const card = (await h.thread(run.id)).cards[0]!;
    // Before the timeout the owner is not an approver.
    const early = await h.click(card, ACTIONS.approve, { user: 'U0OWNER' });
    expect(JSON.stringify(await h.answer(early))).toContain('Only <@U0BOB>');
    expect(await h.core.engine.sweepApprovals()).toEqual({ failed: 0, escalated: 0 });
    // App Home lists it under "Needs attention", with the decision but not the output.
    await h.openHome('U0BOB');
    await h.settle();
    const home = h.stub.callsOf('views.publish').at(-1)!.body.view;
    expect(visibleText(home)).toContain('waits for approval');
    expect(visibleText(home)).not.toContain('timeout test');
    expect(findByType(home, 'button').map((b) => b.action_id)).toContain(ACTIONS.approve);

    clock.advance(31 * 60_000);
    expect(await h.core.engine.sweepApprovals()).toEqual({ failed: 0, escalated: 1 });
    // Once: a second sweep (another process) does nothing.
    expect(await h.core.engine.sweepApprovals()).toEqual({ failed: 0, escalated: 0 });
    await h.settle();
    const alert = h.stub.messagesIn('C0ALERTS').at(-1)!;
    expect(visibleText(alert)).toContain('has waited more than 30 min for approval');
    expect(visibleText(alert)).toContain('<@U0OWNER>');
    expect(visibleText(alert)).toContain('Open the run thread');
    // The output stays in the run's channel.
    expect(visibleText(alert)).not.toContain('timeout test');

    const now = (await h.thread(run.id)).cards[0]!;
    await h.click(now, ACTIONS.approve, { user: 'U0OWNER' });
    await waitForRun(h.core.db, run.id, ['completed']);
    const audit = await prisma().auditEvent.findMany({
      where: { runId: run.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(audit.map((a) => [a.action, a.actor])).toContainEqual([
      'step.approval_escalate',
      'approval-timeout',
    ]);
    expect(audit.map((a) => [a.action, a.actor])).toContainEqual(['step.approve', 'U0OWNER']);
  });

  it('with on_timeout: fail, fails the run after its timeout, and the starter may approve before', async () => {
    await h.command('run strict first');
    const run = await waitFor(() => prisma().workflowRun.findFirst({ where: { workflowName: 'strict' } }));
    await waitForRun(h.core.db, run.id, ['awaiting_approval']);
    clock.advance(11 * 60_000);
    expect(await h.core.engine.sweepApprovals()).toEqual({ failed: 1, escalated: 0 });
    const failed = await waitForRun(h.core.db, run.id, ['failed']);
    expect(failed.reason).toBe('Nobody approved step 1 (only) within 10 min.');
    expect((await stepOf(run.id, 0)).status).toBe('failed');
    expect((await stepOf(run.id, 1)).status).toBe('skipped');
    await h.settle();
    // A click on the old card changes nothing.
    const card = (await h.thread(run.id)).cards[0]!;
    expect(actionIds(card)).not.toContain(ACTIONS.approve);
  });

  it('cancelling a run cancels the step awaiting approval', async () => {
    const run = await startGated('cancel me');
    await h.command(`cancel ${run.number}`, { user: 'U0ALICE' });
    await waitForRun(h.core.db, run.id, ['cancelled']);
    // The run moves first, then its open steps, one guarded write each.
    await waitFor(async () => (await stepOf(run.id, 1)).status === 'skipped', 5000, 'the steps to follow');
    expect((await stepOf(run.id, 0)).status).toBe('cancelled');
  });

  it('a forged or malformed click changes nothing', async () => {
    const run = await startGated('forged');
    const card = (await h.thread(run.id)).cards[0]!;
    const step = await stepOf(run.id, 0);
    const forged = await h.click(card, ACTIONS.approve, { user: 'U0BOB', value: 'someone-else' });
    expect(JSON.stringify(await h.answer(forged))).toContain('not one this card offers');
    const wrongBlock = await h.click(card, ACTIONS.approve, {
      user: 'U0BOB',
      blockId: `step:${step.id}:v999:approve`,
    });
    expect(JSON.stringify(await h.answer(wrongBlock))).toContain('out of date');
    expect((await stepOf(run.id, 0)).status).toBe('awaiting_approval');
    expect(await prisma().auditEvent.count({ where: { runId: run.id, action: 'step.approve' } })).toBe(0);
  });
});
