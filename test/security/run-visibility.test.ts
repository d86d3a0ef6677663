import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { maySee } from '../../src/slack/visibility.js';
import { waitFor } from '../support/engine.js';
import type { Harness } from '../support/slack-harness.js';
import {
  ADMIN,
  ALICE,
  BOB,
  DM,
  declareWorkspace,
  EVE,
  OPEN,
  runIn,
  SECRET,
  SECRET_C,
  SECRET_WORDS,
  say,
  securityHarness,
  withoutRef,
} from './support.js';

/**
 * Promise: a run is seen only by the members of its channel (the participants of a DM) and
 * by Switchboard admins. Someone else asking about it by number gets exactly the answer a
 * number that does not exist gets; lists never fall back to other channels' runs; Slack is
 * asked who is in a channel, and when it cannot say, nothing private is shown.
 */

let h: Harness;

beforeAll(async () => {
  ({ h } = await securityHarness());
});

beforeEach(async () => {
  await h.reset();
  declareWorkspace(h);
});

afterAll(async () => {
  await h?.close();
});

describe.each([
  ['a private channel', SECRET],
  ['a private channel with a C… id', SECRET_C],
  ['a direct message', DM],
])('a run in %s', (_, channel) => {
  it('`/workflow status <n>` answers its members and admins, and anyone else as if it did not exist', async () => {
    const run = await runIn(h, channel, `run echo ${SECRET_WORDS}`);
    const missing = await say(h, 'status 9999', EVE);

    const eve = await say(h, `status ${run.number}`, EVE);
    expect(eve).not.toContain(SECRET_WORDS);
    expect(eve).not.toContain('echo');
    expect(withoutRef(eve, run.number)).toBe(withoutRef(missing, 9999));
    // By id too.
    expect(await say(h, `status ${run.id}`, EVE)).not.toContain(SECRET_WORDS);

    for (const member of channel === DM ? [ALICE] : [ALICE, BOB]) {
      expect(await say(h, `status ${run.number}`, member)).toContain(SECRET_WORDS);
    }
    expect(await say(h, `status #${run.number}`, ADMIN)).toContain(SECRET_WORDS);
  });

  it('`/workflow status` in a channel without runs shows only runs the asker may see', async () => {
    const run = await runIn(h, channel, `run echo ${SECRET_WORDS}`);
    const eve = await say(h, 'status', EVE, OPEN);
    expect(eve).not.toContain(`#${run.number}`);
    expect(eve).toContain('No runs yet');
    expect(await say(h, 'status', ALICE, OPEN)).toContain(`#${run.number}`);
  });

  it('`/workflow cancel <n>` by someone who may not see it answers as for a missing run and cancels nothing', async () => {
    const run = await runIn(h, channel, 'run release-notes notes', { until: ['paused'] });
    const missing = await say(h, 'cancel 9999', EVE);
    const eve = await say(h, `cancel ${run.number}`, EVE);
    expect(withoutRef(eve, run.number)).toBe(withoutRef(missing, 9999));
    expect((await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe(
      'paused',
    );
  });
});

describe('membership comes from Slack', () => {
  it('follows people joining and leaving the channel at once (member_joined/left_channel)', async () => {
    const run = await runIn(h, SECRET, `run echo ${SECRET_WORDS}`);
    expect(await say(h, `status ${run.number}`, BOB)).toContain(SECRET_WORDS);
    expect(await say(h, `status ${run.number}`, EVE)).not.toContain(SECRET_WORDS);

    await h.membership('left', BOB, SECRET);
    await h.membership('joined', EVE, SECRET);
    await h.settle();
    expect(await say(h, `status ${run.number}`, BOB)).not.toContain(SECRET_WORDS);
    expect(await say(h, `status ${run.number}`, EVE)).toContain(SECRET_WORDS);
  });

  it('reads every page of a large channel’s members, then answers from memory', async () => {
    const crowd = Array.from({ length: 2400 }, (_, i) => `U0P${String(i).padStart(5, '0')}`);
    h.stub.channel(SECRET, { kind: 'private', members: [ALICE, ...crowd, BOB, 'U0BOT'] });
    const run = await runIn(h, SECRET, `run echo ${SECRET_WORDS}`);
    const pages = () => h.stub.callsOf('conversations.members').filter((c) => c.body.channel === SECRET);
    const before = pages().length;
    expect(await say(h, `status ${run.number}`, BOB)).toContain(SECRET_WORDS);
    // 2403 members, 1000 a page.
    expect(pages().length - before).toBe(3);
    expect(pages().map((c) => c.body.limit)).toContain('1000');
    expect(await say(h, `status ${run.number}`, BOB)).toContain(SECRET_WORDS);
    expect(pages().length - before).toBe(3);
  });

  it.each([
    ['an error', { kind: 'error' as const, error: 'internal_error' }],
    ['a rate limit', { kind: 'ratelimit' as const, retryAfterSeconds: 30 }],
    ['a private channel the bot was removed from', { kind: 'error' as const, error: 'channel_not_found' }],
  ])('shows nothing private when Slack cannot say (%s)', async (_, answer) => {
    const run = await runIn(h, SECRET, `run echo ${SECRET_WORDS}`);
    h.slack.directory.forgetAll();
    h.stub.override('conversations.members', answer, 5);
    const missing = await say(h, 'status 9999', BOB);
    const bob = await say(h, `status ${run.number}`, BOB);
    expect(withoutRef(bob, run.number)).toBe(withoutRef(missing, 9999));
    // An admin needs no answer from Slack.
    expect(await say(h, `status ${run.number}`, ADMIN)).toContain(SECRET_WORDS);
  });

  it('a run started outside Slack (no channel) is seen by admins only', async () => {
    const started = await h.core.engine.runs.startRun({
      workflow: 'echo',
      input: SECRET_WORDS,
      startedBy: 'cli',
      trigger: 'cli',
    });
    await waitFor(async () =>
      ['completed'].includes(
        (await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: started.id } })).status,
      ),
    );
    expect(await say(h, `status ${started.number}`, ALICE)).not.toContain(SECRET_WORDS);
    expect(await say(h, `status ${started.number}`, ADMIN)).toContain(SECRET_WORDS);
  });
});

describe('the rule', () => {
  const members = new Set([ALICE, BOB]);
  it.each([
    ['a member', ALICE, 'C1', { admin: false, members }, true],
    ['someone else', EVE, 'C1', { admin: false, members }, false],
    ['an admin', ADMIN, 'C1', { admin: true, members }, true],
    ['a member, when Slack cannot say', ALICE, 'C1', { admin: false, members: undefined }, false],
    ['an admin, when Slack cannot say', ADMIN, 'C1', { admin: true, members: undefined }, true],
    ['anyone, of a run without a channel', ALICE, null, { admin: false, members }, false],
    ['an admin, of a run without a channel', ADMIN, null, { admin: true, members }, true],
  ])('%s', (_, user, channel, facts, seen) => {
    expect(maySee(user, channel, facts)).toBe(seen);
  });
});

describe('in Socket Mode', () => {
  let socket: Harness;

  beforeAll(async () => {
    ({ h: socket } = await securityHarness({ mode: 'socket' }));
    declareWorkspace(socket);
  });

  afterAll(async () => {
    await socket?.close();
  });

  it('the same rule, and joins and leaves arrive as events over the socket', async () => {
    const run = await runIn(socket, SECRET, `run echo ${SECRET_WORDS}`);
    expect(await say(socket, `status ${run.number}`, EVE)).not.toContain(SECRET_WORDS);
    expect(await say(socket, `status ${run.number}`, BOB)).toContain(SECRET_WORDS);
    await socket.membership('joined', EVE, SECRET);
    await socket.settle();
    expect(await say(socket, `status ${run.number}`, EVE)).toContain(SECRET_WORDS);
  });
});
