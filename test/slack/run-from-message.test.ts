import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RUN_FIELDS, SHORTCUTS } from '../../src/slack/views/index.js';
import { visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { LlmCall } from '../support/llm-answers.js';
import type { StubMessage } from '../support/slack-api-stub.js';
import {
  type Harness,
  interceptLlms,
  ONE_STEP_YML,
  PERSONAS_YML,
  startHarness,
} from '../support/slack-harness.js';
import type { SlackMode } from '../support/slack-transport.js';

/**
 * "Run a workflow…" on a message (issue 14): the message shortcut opens a modal, the
 * submission reads the message or its whole thread (conversations.replies, bounded, with
 * authors' names and files), and the run is posted in that thread or in the channel. The
 * global shortcut does the same with a text box and a channel picker. Both ways Slack
 * reaches the bot, against the Web API stand-in.
 */

const RESTRICTED_YML = `name: payroll
description: Only for the finance team
runners: [U0BOB]
owners: [U0CAROL]
steps:
  - name: answer
    prompt: "{{input}}"
    provider: openai
    model: gpt-4o-mini
`;

const WORKFLOWS = { 'personas.yml': PERSONAS_YML, 'echo.yml': ONE_STEP_YML, 'payroll.yml': RESTRICTED_YML };

/** The view the bot opened last, as the stand-in holds it (once the listener is done). */
async function lastView(h: Harness) {
  await h.settle();
  const opened = h.stub.callsOf('views.open').at(-1);
  expect(opened, 'a modal was opened').toBeDefined();
  const id = [...h.stub.views.keys()].at(-1)!;
  return h.stub.views.get(id)!;
}

/** The select's option values of a modal's input block. */
function optionsOf(view: Record<string, unknown>, blockId: string): string[] {
  const block = (view.blocks as { block_id?: string; element?: { options?: { value: string }[] } }[]).find(
    (b) => b.block_id === blockId,
  );
  return block?.element?.options?.map((o) => o.value) ?? [];
}

/** The modal's text once the run started or was refused (views.update of the submitted view). */
async function outcome(h: Harness, viewId: string): Promise<string> {
  const update = await waitFor(
    () => h.stub.callsOf('views.update').find((c) => c.body.view_id === viewId),
    10_000,
    'the modal to show the outcome',
  );
  return visibleText(update.body.view as { blocks: unknown[] });
}

/** A thread in #incidents: a parent by Alice and `replies` replies by Bob and Carol, one with files. */
function seedThread(h: Harness, replies: number, channel = 'C0INC'): StubMessage {
  if (!h.stub.conversations.has(channel)) h.stub.conversations.set(channel, { name: 'incidents' });
  h.stub.users.set('U0ALICE', { name: 'alice', realName: 'Alice Smith', displayName: 'alice.s' });
  h.stub.users.set('U0BOB', { name: 'bob', realName: 'Bob Jones', displayName: '' });
  h.stub.users.set('U0CAROL', { name: 'carol', realName: 'Carol Ng', displayName: 'Carol' });
  const root = h.stub.post(channel, { user: 'U0ALICE', text: 'Checkout is returning 502s since 14:00' });
  for (let i = 1; i <= replies; i++) {
    h.stub.post(channel, {
      user: i % 2 === 0 ? 'U0CAROL' : 'U0BOB',
      text: `reply ${i}: <@U0ALICE> looked at pod ${i}`,
      threadTs: root,
      ...(i === 7 ? { files: [{ name: 'grafana.png' }, { name: 'pods.log' }] } : {}),
    });
  }
  return h.stub.messages.get(`${channel}:${root}`)!;
}

describe.each<[SlackMode]>([['http'], ['socket']])('Run a workflow… from a message (%s)', (mode) => {
  let h: Harness;
  let llm: LlmCall[];

  beforeAll(async () => {
    h = await startHarness({
      mode,
      workflows: WORKFLOWS,
      env: { SLACK_THREAD_MAX_MESSAGES: '40', SLACK_THREAD_MAX_CHARS: '6000' },
    });
    llm = interceptLlms((call) => ({ text: `ok: ${call.prompt.length} chars` }));
  });

  afterEach(async () => {
    await h.reset();
    llm.length = 0;
  });

  afterAll(async () => {
    await h?.close();
  });

  it('on a thread of 30 replies starts a run whose first prompt carries them all, posted in that thread', async () => {
    const parent = seedThread(h, 30);
    const ack = await h.messageShortcut(SHORTCUTS.fromMessage, parent, {
      user: 'U0ALICE',
      channelName: 'incidents',
    });
    expect(ack.status).toBe(200);
    const modal = await lastView(h);
    // Only what Alice may run: not payroll (runners: U0BOB).
    expect(optionsOf(modal, RUN_FIELDS.workflow)).toEqual(['echo']);
    expect(visibleText(modal as unknown as { blocks: unknown[] })).toContain(
      'The whole thread in #incidents (31 messages',
    );

    const submitted = await h.submitView(modal, {
      user: 'U0ALICE',
      inputs: { [RUN_FIELDS.instructions]: 'Summarise for the status page.' },
    });
    expect(submitted.json).toMatchObject({ response_action: 'update' });
    expect(await outcome(h, modal.id)).toMatch(/Run #\d+ of `echo` started\. It is posted in the thread\./);

    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'echo' } }),
    );
    expect(run).toMatchObject({
      trigger: 'shortcut',
      startedBy: 'U0ALICE',
      channelId: 'C0INC',
      inThreadTs: parent.ts,
    });
    const done = await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();

    // The first (and only) prompt: the instructions, then the thread with its authors and files.
    expect(llm).toHaveLength(1);
    const prompt = llm[0]!.prompt;
    expect(prompt.startsWith('Summarise for the status page.\n\nA Slack thread of 31 messages')).toBe(true);
    expect(prompt).toContain('alice.s (2023-11-14 22:13 UTC): Checkout is returning 502s since 14:00');
    for (let i = 1; i <= 30; i++) expect(prompt).toContain(`reply ${i}: @alice.s looked at pod ${i}`);
    expect(prompt).toContain('Bob Jones (');
    expect(prompt).toContain('Carol (');
    expect(prompt).toContain('[files: grafana.png, pods.log]');

    // The run is posted in that thread: its parent message and its card are replies there.
    const thread = h.stub.thread('C0INC', parent.ts);
    const posted = h.stub.messages.get(
      `C0INC:${(await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: done.id } })).threadTs}`,
    )!;
    expect(posted.threadTs).toBe(parent.ts);
    expect(visibleText(posted)).toContain('echo · run #');
    expect(visibleText(posted)).toContain('with a shortcut');
    const card = thread.find((m) => m.ts !== posted.ts && visibleText(m).includes('Step 1/1'));
    expect(card?.threadTs).toBe(parent.ts);
    h.expectAllPayloadsValid();
  });

  it('runs on one message, posted in the channel, when asked so', async () => {
    const parent = seedThread(h, 3);
    const reply = h.stub.thread('C0INC', parent.ts)[1]!;
    await h.messageShortcut(SHORTCUTS.fromMessage, reply, { user: 'U0BOB', channelName: 'incidents' });
    const modal = await lastView(h);
    expect(visibleText(modal as unknown as { blocks: unknown[] })).toContain(
      'The message in #incidents is the input.',
    );
    // Bob may run payroll too (he is one of its runners).
    expect(optionsOf(modal, RUN_FIELDS.workflow)).toEqual(['echo', 'payroll']);
    await h.submitView(modal, {
      user: 'U0BOB',
      inputs: { [RUN_FIELDS.workflow]: { option: 'echo' }, [RUN_FIELDS.postIn]: { option: 'channel' } },
    });
    expect(await outcome(h, modal.id)).toContain('It is posted in #incidents.');
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'echo' } }),
    );
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    // Only that message; a mention of someone who did not write in it stays an id.
    expect(llm[0]!.prompt).toBe(
      'A Slack message:\n\nCarol (2023-11-14 22:13 UTC): reply 2: @U0ALICE looked at pod 2',
    );
    const row = await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } });
    const posted = h.stub.messages.get(`C0INC:${row.threadTs}`)!;
    expect(posted.threadTs).toBeUndefined();
    h.expectAllPayloadsValid();
  });

  it('refuses a thread longer than SLACK_THREAD_MAX_MESSAGES, and starts nothing', async () => {
    const parent = seedThread(h, 45);
    await h.messageShortcut(SHORTCUTS.fromMessage, parent, { user: 'U0ALICE' });
    const modal = await lastView(h);
    await h.submitView(modal, { user: 'U0ALICE' });
    expect(await outcome(h, modal.id)).toContain(
      'This thread has more than 40 messages, the most Switchboard reads (SLACK_THREAD_MAX_MESSAGES).',
    );
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
    // Bounded: it stopped reading at the first page past the limit.
    expect(h.stub.callsOf('conversations.replies')).toHaveLength(1);
    h.expectAllPayloadsValid();
  });

  it('refuses a conversation the bot cannot read, and starts nothing', async () => {
    h.stub.conversations.set('C0SECRET', { name: 'secret', isPrivate: true, isMember: false });
    const message = seedThread(h, 2, 'C0SECRET');
    await h.messageShortcut(SHORTCUTS.fromMessage, message, { user: 'U0ALICE', channelName: 'secret' });
    const modal = await lastView(h);
    await h.submitView(modal, { user: 'U0ALICE' });
    const text = await outcome(h, modal.id);
    expect(text).toContain("Switchboard can't read this conversation: invite it with `/invite @Switchboard`");
    expect(text).toContain('Nothing was started.');
    expect(h.stub.callsOf('conversations.replies')).toHaveLength(0);
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
  });
});

describe('Run a workflow… refusals (http)', () => {
  let h: Harness;
  let llm: LlmCall[];

  beforeAll(async () => {
    h = await startHarness({
      workflows: WORKFLOWS,
      env: { SLACK_THREAD_MAX_MESSAGES: '40', SLACK_THREAD_MAX_CHARS: '600' },
    });
    llm = interceptLlms(() => ({ text: 'ok' }));
  });

  afterEach(async () => {
    await h.reset();
    llm.length = 0;
  });

  afterAll(async () => {
    await h?.close();
  });

  async function openOn(message: StubMessage, user = 'U0ALICE') {
    await h.messageShortcut(SHORTCUTS.fromMessage, message, { user, channelName: 'incidents' });
    return await lastView(h);
  }

  it('a workflow disabled or deleted while the modal was open is refused in the modal, nothing started', async () => {
    const parent = seedThread(h, 2);
    const modal = await openOn(parent);
    await h.core.db.prisma.workflow.update({ where: { name: 'echo' }, data: { enabled: false } });
    const disabled = await h.submitView(modal, {
      user: 'U0ALICE',
      inputs: { [RUN_FIELDS.workflow]: { option: 'echo' } },
    });
    expect(disabled.json).toEqual({
      response_action: 'errors',
      errors: { [RUN_FIELDS.workflow]: 'echo was disabled meanwhile (its file was removed). Pick another.' },
    });
    await h.core.db.prisma.workflow.delete({ where: { name: 'echo' } });
    const deleted = await h.submitView(modal, {
      user: 'U0ALICE',
      inputs: { [RUN_FIELDS.workflow]: { option: 'echo' } },
    });
    expect(deleted.json).toEqual({
      response_action: 'errors',
      errors: {
        [RUN_FIELDS.workflow]: 'There is no workflow named echo any more (it was deleted). Pick another.',
      },
    });
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
    expect(h.stub.callsOf('views.update')).toHaveLength(0);
  });

  it('a workflow the user may not run is not offered, and a forged choice of it is refused', async () => {
    const parent = seedThread(h, 2);
    const modal = await openOn(parent);
    expect(optionsOf(modal, RUN_FIELDS.workflow)).not.toContain('payroll');
    const forged = await h.submitView(modal, {
      user: 'U0ALICE',
      inputs: { [RUN_FIELDS.workflow]: { option: 'payroll' } },
    });
    expect(forged.json).toEqual({
      response_action: 'errors',
      errors: {
        [RUN_FIELDS.workflow]:
          "You can't run payroll: only the people its file lists as runners, its owners and Switchboard admins can.",
      },
    });
    // The slash command applies the same rule.
    const slash = await h.answer(await h.command('run payroll hello', { user: 'U0ALICE' }));
    expect(visibleText(slash)).toContain("You can't run `payroll`");
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
  });

  it('the modal may be submitted only by whoever opened it', async () => {
    const parent = seedThread(h, 2);
    const modal = await openOn(parent, 'U0ALICE');
    const other = await h.submitView(modal, { user: 'U0MALLORY' });
    expect(other.json).toEqual({
      response_action: 'errors',
      errors: { [RUN_FIELDS.workflow]: 'Only the person who opened this form can submit it.' },
    });
    const unreadable = await h.submitView(
      { ...modal, private_metadata: '{"k":"m","c":"C0OTHER"}' },
      { user: 'U0ALICE' },
    );
    expect(unreadable.json).toMatchObject({ response_action: 'errors' });
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
  });

  it('a forged "post in" choice is refused: a thread is never posted in another conversation', async () => {
    const parent = seedThread(h, 2);
    const modal = await openOn(parent);
    const forged = await h.submitView(modal, {
      user: 'U0ALICE',
      inputs: { [RUN_FIELDS.postIn]: { option: 'C0ELSEWHERE' } },
    });
    expect(forged.json).toMatchObject({
      response_action: 'errors',
      errors: { [RUN_FIELDS.postIn]: expect.any(String) },
    });
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
  });

  it('a public channel the bot is not in cannot be read: it says how to invite it', async () => {
    h.stub.conversations.set('C0PUB', { name: 'random', isMember: false });
    const parent = seedThread(h, 2, 'C0PUB');
    const modal = await openOn(parent);
    await h.submitView(modal, { user: 'U0ALICE' });
    expect(await outcome(h, modal.id)).toContain("Switchboard can't read #random: invite it");
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
  });

  it('a message longer than SLACK_THREAD_MAX_CHARS is refused, nothing started', async () => {
    h.stub.users.set('U0ALICE', { name: 'alice' });
    const ts = h.stub.post('C0INC', { user: 'U0ALICE', text: 'x'.repeat(700) });
    const modal = await openOn(h.stub.messages.get(`C0INC:${ts}`)!);
    await h.submitView(modal, { user: 'U0ALICE' });
    expect(await outcome(h, modal.id)).toMatch(
      /This message is [\d,]+ characters; the most Switchboard takes is 600 \(SLACK_THREAD_MAX_CHARS\)/,
    );
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
  });

  it('someone who may run nothing is told so instead of an empty menu', async () => {
    await h.core.db.prisma.workflow.update({ where: { name: 'echo' }, data: { enabled: false } });
    const parent = seedThread(h, 1);
    const modal = await openOn(parent, 'U0MALLORY');
    expect(modal.callback_id).not.toBe('run_workflow_modal');
    expect(visibleText(modal as unknown as { blocks: unknown[] })).toContain(
      'There is no workflow you can run.',
    );
    h.expectAllPayloadsValid();
  });
});

describe.each<[SlackMode]>([['http'], ['socket']])('Run a workflow from the global shortcut (%s)', (mode) => {
  let h: Harness;
  let llm: LlmCall[];

  beforeAll(async () => {
    h = await startHarness({ mode, workflows: WORKFLOWS });
    llm = interceptLlms(() => ({ text: 'ok' }));
  });

  afterEach(async () => {
    await h.reset();
    llm.length = 0;
  });

  afterAll(async () => {
    await h?.close();
  });

  it('runs the typed input, posted in the channel picked', async () => {
    await h.globalShortcut(SHORTCUTS.global, { user: 'U0ALICE' });
    const modal = await lastView(h);
    await h.submitView(modal, {
      user: 'U0ALICE',
      inputs: {
        [RUN_FIELDS.input]: 'v2.3.0: dark mode',
        [RUN_FIELDS.channel]: { conversation: 'C0RELEASES' },
      },
    });
    expect(await outcome(h, modal.id)).toMatch(/Run #\d+ of `echo` started\. It is posted in #general\./);
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'echo' } }),
    );
    expect(run).toMatchObject({ channelId: 'C0RELEASES', inThreadTs: null, trigger: 'shortcut' });
    await waitForRun(h.core.db, run.id, ['completed']);
    expect(llm[0]!.prompt).toBe('v2.3.0: dark mode');
    h.expectAllPayloadsValid();
  });

  it('refuses a channel the bot cannot post in, and an empty input, starting nothing', async () => {
    h.stub.conversations.set('C0PRIVATE', { name: 'board', isPrivate: true, isMember: false });
    await h.globalShortcut(SHORTCUTS.global, { user: 'U0ALICE' });
    const modal = await lastView(h);
    const empty = await h.submitView(modal, {
      user: 'U0ALICE',
      inputs: { [RUN_FIELDS.input]: '  ', [RUN_FIELDS.channel]: { conversation: 'C0PRIVATE' } },
    });
    expect(empty.json).toMatchObject({
      response_action: 'errors',
      errors: { [RUN_FIELDS.input]: expect.any(String) },
    });
    await h.submitView(modal, {
      user: 'U0ALICE',
      inputs: { [RUN_FIELDS.input]: 'hello', [RUN_FIELDS.channel]: { conversation: 'C0PRIVATE' } },
    });
    expect(await outcome(h, modal.id)).toContain("Switchboard can't post in that channel");
    expect(await h.core.db.prisma.workflowRun.count()).toBe(0);
  });
});
