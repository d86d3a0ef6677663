import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REFUSED } from '../../src/slack/card-actions.js';
import { ACTIONS, ALERT_RETRY_WITH_PATTERN } from '../../src/slack/views/index.js';
import { findByType, visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import { BOT_USER_ID } from '../support/slack-api-stub.js';
import type { Harness } from '../support/slack-harness.js';
import {
  ALERTS,
  ALICE,
  BOB,
  declareWorkspace,
  defaultAnswer,
  EVE,
  type Llm,
  OWNER,
  runIn,
  SECRET,
  say,
  securityHarness,
  withoutRef,
} from './support.js';

/**
 * Promise: acting on a run requires seeing it, and then SLACK_EDIT_POLICY decides. Under
 * the `channel` policy the members of the run's channel may act — the workspace's own
 * members, not Slack Connect guests from another organisation nor workspace guests — and
 * being in the channel a failure alert went to grants nothing. A forged choice names only
 * what the menus offer (the admin's *_MODELS), and "Retry with" applies only to the pause
 * it was drawn for.
 */

/** A Slack Connect channel: Alice and Bob, a partner's employee, and a guest. */
const SHARED = 'C0SHARED';
const PARTNER = 'U0PARTNER';
const GUEST = 'U0GUEST';

let h: Harness;
let llm: Llm;

beforeAll(async () => {
  ({ h, llm } = await securityHarness({
    env: {
      SLACK_EDIT_POLICY: 'channel',
      // The built-in lists also hold claude-opus-4-1 and gpt-4.1: the admin offers neither.
      ANTHROPIC_MODELS: 'claude-haiku-4-5,claude-sonnet-4-5',
      OPENAI_MODELS: 'gpt-4o-mini,gpt-4o',
    },
  }));
});

beforeEach(async () => {
  await h.reset();
  llm.answer = defaultAnswer;
  declareWorkspace(h);
  h.stub.meet(PARTNER, GUEST);
  h.stub.channel(SHARED, {
    kind: 'public',
    shared: true,
    members: [ALICE, BOB, PARTNER, GUEST, BOT_USER_ID],
  });
  h.stub.user(PARTNER, { teamId: 'T0PARTNER' });
  h.stub.user(GUEST, { guest: 'restricted' });
});

afterAll(async () => {
  await h?.close();
});

const stepRows = (runId: string) =>
  h.core.db.prisma.runStep.findMany({ where: { runId }, orderBy: { position: 'asc' } });

describe('the channel policy', () => {
  it('lets the workspace’s members of a Slack Connect channel act, not the partner’s people nor guests', async () => {
    const run = await runIn(h, SHARED, 'run release-notes shared notes', { until: ['paused'] });
    const { parent } = await h.thread(run.id);
    for (const outsider of [PARTNER, GUEST]) {
      const click = await h.click(parent, ACTIONS.runCancel, { user: outsider });
      expect(visibleText(await h.answer(click))).toContain("You can't change run");
      expect(await say(h, `cancel ${run.number}`, outsider, SHARED)).toContain("You can't change run");
    }
    expect((await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe(
      'paused',
    );
    // Bob is neither the starter nor an owner: the channel policy lets him, from this workspace.
    expect(await say(h, `cancel ${run.number}`, BOB, SHARED)).toContain('Cancelled');
  });

  it('gives nothing to the members of the channel a failure alert went to', async () => {
    const run = await runIn(h, SECRET, 'run release-notes secret notes', { until: ['paused'] });
    const alert = await waitFor(() => h.stub.messagesIn(ALERTS)[0], 5000, 'the alert');
    // Eve is in the alert channel, not in the run's.
    const missing = await say(h, 'cancel 9999', EVE, ALERTS);
    expect(withoutRef(await say(h, `cancel ${run.number}`, EVE, ALERTS), run.number)).toBe(
      withoutRef(missing, 9999),
    );
    const click = await h.click(alert, ALERT_RETRY_WITH_PATTERN, { user: EVE });
    expect(visibleText(await h.answer(click))).toContain(REFUSED.gone);
    await h.settle();
    expect((await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe(
      'paused',
    );
  });

  it('acting requires seeing: an owner not in a private channel cannot act on its runs', async () => {
    const run = await runIn(h, SECRET, 'run release-notes secret notes', { until: ['paused'] });
    const missing = await say(h, 'cancel 9999', OWNER);
    expect(withoutRef(await say(h, `cancel ${run.number}`, OWNER), run.number)).toBe(
      withoutRef(missing, 9999),
    );
    expect(await say(h, `cancel ${run.number}`, ALICE, SECRET)).toContain('Cancelled');
  });
});

describe('schedules under the channel policy', () => {
  it('its channel’s members may pause and resume a schedule, not add or remove one; outsiders nothing', async () => {
    expect(await say(h, 'schedule add release-notes "0 9 * * *" notes', BOB, SHARED)).toContain(
      "You can't add schedules",
    );
    const added = await say(h, 'schedule add release-notes "0 9 * * *" notes', OWNER, SHARED);
    const number = Number(/#(\d+)/.exec(added)![1]);
    expect(await say(h, `schedule pause ${number}`, PARTNER, SHARED)).toContain("You can't pause");
    expect(await say(h, `schedule pause ${number}`, BOB, SHARED)).toContain('Paused');
    expect(await say(h, `schedule resume ${number}`, BOB, SHARED)).toContain('Resumed');
    expect(await say(h, `schedule remove ${number}`, BOB, SHARED)).toContain("You can't remove");
  });
});

describe('forged choices', () => {
  it('a model the admin’s list leaves out is refused, from a card or from "Retry with"', async () => {
    const run = await runIn(h, SECRET, 'run release-notes notes', { until: ['paused'] });
    const card = (await h.thread(run.id)).cards[1]!;
    const before = await stepRows(run.id);
    const option = await h.click(card, ACTIONS.selectModel, {
      user: ALICE,
      option: 'anthropic/claude-opus-4-1',
    });
    expect(visibleText(await h.answer(option))).toContain(
      'anthropic/claude-opus-4-1 is not an available model',
    );
    const alert = await waitFor(() => h.stub.messagesIn(ALERTS)[0], 5000, 'the alert');
    // The alert offers only listed models…
    const offered = findByType(alert.blocks, 'button').map((b) => String(b.value));
    for (const value of offered)
      expect(value).toMatch(/\|(openai\/gpt-4o-mini|openai\/gpt-4o|anthropic\/claude-sonnet-4-5)$/);
    // …and a forged one naming another is refused.
    const forged = await h.click(alert, ALERT_RETRY_WITH_PATTERN, {
      user: ALICE,
      value: `${before[1]!.id}|openai/gpt-4.1`,
    });
    expect(visibleText(await h.answer(forged))).toContain('openai/gpt-4.1 is not an available model');
    await h.settle();
    expect(await stepRows(run.id)).toEqual(before);
  });
});

describe('"Retry with" from an old alert', () => {
  it('applies only to the pause it was drawn for', async () => {
    const run = await runIn(h, SECRET, 'run release-notes notes', { until: ['paused'] });
    const first = structuredClone(await waitFor(() => h.stub.messagesIn(ALERTS)[0], 5000, 'the alert'));
    // Alice retries the step as it is: it fails again and pauses again (a new pause).
    const card = (await h.thread(run.id)).cards[1]!;
    const paused = (await stepRows(run.id))[1]!;
    await h.click(card, ACTIONS.retry, { user: ALICE });
    await waitFor(async () => {
      const now = (await stepRows(run.id))[1]!;
      return now.status === 'paused' && now.version > paused.version + 1;
    });
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.settle();
    const before = await stepRows(run.id);

    const stale = await h.click(first, ALERT_RETRY_WITH_PATTERN, { user: ALICE });
    expect(visibleText(await h.answer(stale))).toContain(REFUSED.staleAlert);
    await h.settle();
    expect(await stepRows(run.id)).toEqual(before);
    // The alert as it is now still works.
    const current = h.stub.messagesIn(ALERTS).at(-1)!;
    await h.click(current, ALERT_RETRY_WITH_PATTERN, { user: ALICE });
    await waitForRun(h.core.db, run.id, ['completed']);
  });
});
