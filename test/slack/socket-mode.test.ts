import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { createSlackApp } from '../../src/slack/slack-app.js';
import { SlackStartError } from '../../src/slack/socket-receiver.js';
import { ACTIONS } from '../../src/slack/views/index.js';
import { expectValidMessage, visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { LlmCall } from '../support/llm-answers.js';
import {
  APP_TOKEN,
  type Harness,
  interceptLlms,
  ONE_STEP_YML,
  PERSONAS_YML,
  RELEASE_NOTES_YML,
  startHarness,
} from '../support/slack-harness.js';
import { homeOpenedEvent, slashCommandPayload } from '../support/slack-requests.js';

/**
 * Socket Mode, the manifest's default, end to end: the bot opens its connection through
 * SLACK_API_URL with the app-level token, answers in its acks what HTTP answers in its
 * response bodies, rides out Slack's connection refreshes without losing or repeating work,
 * and acks what it cannot read without changing anything. (The rescue journey runs in both
 * modes in rescue.e2e.test.ts.)
 */

let h: Harness;
let llm: LlmCall[];
/** Provider answers wait while a test holds them. */
let held: Promise<void> = Promise.resolve();
let release = () => {};
const hold = () => {
  held = new Promise<void>((resolve) => {
    release = resolve;
  });
};

beforeAll(async () => {
  h = await startHarness({
    mode: 'socket',
    workflows: {
      'personas.yml': PERSONAS_YML,
      'release-notes.yml': RELEASE_NOTES_YML,
      'echo.yml': ONE_STEP_YML,
    },
  });
  llm = interceptLlms(async (call) => {
    await held;
    return { text: `answer to ${call.prompt}` };
  });
});

afterEach(async () => {
  release();
  await h.reset();
  llm.length = 0;
});

afterAll(async () => {
  release();
  await h?.close();
});

const rows = async () => {
  const p = h.core.db.prisma;
  return {
    runs: await p.workflowRun.count(),
    steps: await p.runStep.count(),
    audit: await p.auditEvent.count(),
    versions: await p.workflowVersion.count(),
  };
};

describe('the connection', () => {
  it('is opened through SLACK_API_URL with the app-level token, and kept open by pings', async () => {
    // Opened at start: apps.connections.open on the stub, with the xapp- token (the bot's
    // xoxb- token verified itself with auth.test), then the WebSocket URL it returned.
    const opens = h.stub.callsOf('apps.connections.open');
    expect(opens.map((c) => c.token)).toEqual([APP_TOKEN]);
    expect(h.stub.callsOf('auth.test')[0]?.token).toMatch(/^xoxb-/);
    expect(h.stub.socket.connections).toHaveLength(1);
    expect(h.stub.socket.connections[0]!.ticket).toBe(h.stub.socket.tickets[0]);

    // The client pings every few seconds and drops a connection whose pongs stop; four pings
    // answered and the same connection still open means the pongs arrive.
    const pings = h.stub.socket.pings;
    await waitFor(() => h.stub.socket.pings >= pings + 4, 20_000, 'four pings from the app');
    expect(h.stub.socket.connections).toHaveLength(1);
    expect(h.stub.socket.connections[0]!.closedAt).toBeUndefined();
  });

  it('answers a slash command in its ack payload, as HTTP does in the response body', async () => {
    const help = await h.command('help');
    expect(h.stub.socket.acksOf(help.envelopeId!)).toHaveLength(1);
    const answer = await h.answer(help);
    expect(answer.response_type).toBe('ephemeral');
    expect(answer.text).toBe('How to use /workflow');

    const typo = await h.answer(await h.command('run relase-notes x'));
    expect(visibleText(typo as { blocks: unknown[] })).toContain('Did you mean `release-notes`?');
    // Work is acked empty, and answered later through the response_url.
    const run = await h.command('run echo hi');
    expect(h.stub.socket.acksOf(run.envelopeId!)[0]!.payload).toEqual({});
    expect(run.text).toBe('');
  });
});

describe('a connection refresh in the middle of a run', () => {
  it('reconnects, finishes the run, delivers what came meanwhile, and handles nothing twice', async () => {
    hold();
    const command = await h.command('run echo across a reconnect');
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({}));
    await waitFor(() => llm.length === 1, 10_000, 'the step to reach the provider');
    const opensBefore = h.stub.socket.tickets.length;

    // Slack recycles the connection while the step is in the provider's hands.
    const old = await h.stub.socket.disconnect('refresh_requested');
    expect(old.closeCode).toBe(1000); // the app closed it normally, as asked
    // A user opens the Home tab while the bot is between connections: Slack keeps the event.
    const homeEnvelope = h.stub.socket.deliver('events_api', homeOpenedEvent('U0ALICE'));

    const fresh = await h.stub.socket.connected();
    expect(fresh.id).toBeGreaterThan(old.id);
    expect(h.stub.socket.tickets.length).toBeGreaterThan(opensBefore); // a second apps.connections.open
    expect(h.stub.callsOf('apps.connections.open').every((c) => c.token === APP_TOKEN)).toBe(true);

    release();
    const done = await waitForRun(h.core.db, run.id, ['completed']);
    expect(done.status).toBe('completed');
    await h.settle();
    const { cards } = await h.thread(run.id);
    expect(visibleText(cards[0]!)).toContain('answer to across a reconnect');

    // The held event went out on the new connection, was acked there, and published Home once.
    expect((await h.stub.socket.ackOf(homeEnvelope)).connection).toBe(fresh.id);
    await waitFor(() => h.stub.callsOf('views.publish').length > 0, 10_000, 'views.publish');
    await h.settle();
    expect(h.stub.callsOf('views.publish')).toHaveLength(1);

    // Every envelope was sent once and acked once; the command started one run.
    const ids = h.stub.socket.sent.map((e) => e.envelope_id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) expect(h.stub.socket.acksOf(id)).toHaveLength(1);
    expect(h.stub.socket.acksOf(command.envelopeId!)[0]!.connection).toBe(old.id);
    expect((await rows()).runs).toBe(1);
    expect(llm).toHaveLength(1);

    // Clicks reach the bot on the new connection.
    const status = await h.command('status');
    expect(h.stub.socket.acksOf(status.envelopeId!)[0]!.connection).toBe(fresh.id);
  });

  it('starts one run when an envelope arrives twice with the same envelope_id', async () => {
    const first = await h.command('run echo only once');
    const envelope = h.stub.socket.sent.find((e) => e.envelope_id === first.envelopeId)!;
    h.stub.socket.resend(envelope);
    await waitFor(() => h.stub.socket.acksOf(envelope.envelope_id).length === 2, 10_000, 'the second ack');
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({}));
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();

    expect(await rows()).toMatchObject({ runs: 1, steps: 1 });
    expect(await h.core.db.prisma.auditEvent.count({ where: { action: 'run.start' } })).toBe(1);
    expect(h.stub.callsOf('chat.postMessage').filter((c) => !c.body.thread_ts)).toHaveLength(1);
    expect(llm.filter((c) => c.prompt === 'only once')).toHaveLength(1);
  });
});

describe('what the bot cannot use', () => {
  it('fails at start with a message naming SLACK_APP_TOKEN when Slack refuses it', async () => {
    h.stub.override('apps.connections.open', { kind: 'error', error: 'invalid_auth' });
    const refused = createSlackApp({
      core: h.core,
      config: loadConfig({
        SLACK_BOT_TOKEN: 'xoxb-test-0000-token',
        SLACK_APP_TOKEN: 'xapp-1-A0TEST-1-revoked',
        SLACK_API_URL: h.stub.apiUrl,
      }),
    });
    try {
      const started = refused.start();
      await expect(started).rejects.toBeInstanceOf(SlackStartError);
      await expect(started).rejects.toThrow(
        'Slack refused SLACK_APP_TOKEN (invalid_auth) when opening the Socket Mode connection',
      );
    } finally {
      refused.close();
    }
    // It asked the stub, not slack.com, and with the app token it was given.
    expect(h.stub.callsOf('apps.connections.open').at(-1)?.token).toBe('xapp-1-A0TEST-1-revoked');
  });

  it('waits out a Slack error on apps.connections.open at start, and connects', async () => {
    h.stub.override('apps.connections.open', { kind: 'status', status: 503 }, 2);
    const patient = createSlackApp({
      core: h.core,
      config: loadConfig({
        SLACK_BOT_TOKEN: 'xoxb-test-0000-token',
        SLACK_APP_TOKEN: APP_TOKEN,
        SLACK_API_URL: h.stub.apiUrl,
      }),
    });
    const connections = h.stub.socket.connections.length;
    try {
      const opens = h.stub.callsOf('apps.connections.open').length;
      await patient.start();
      expect(h.stub.callsOf('apps.connections.open')).toHaveLength(opens + 3);
      expect(h.stub.socket.connections).toHaveLength(connections + 1);
    } finally {
      await patient.stopReceiving();
      patient.close();
    }
    await waitFor(() => h.stub.socket.connections.at(-1)!.closedAt, 10_000, 'the second app to disconnect');
  });

  it('acks envelopes it cannot read and changes nothing', async () => {
    await h.command('run echo before');
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({}));
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    const before = await rows();
    const callsBefore = h.stub.calls.length;
    const responsesBefore = h.stub.responses.length;
    const socket = h.stub.socket;

    socket.sendRaw('this is not JSON');
    const envelopes = [
      // A payload Bolt cannot place (no command, actions, event or view).
      socket.deliver('interactive', { type: 'no_such_interaction', user: { id: 'U0ALICE' } }),
      socket.deliver('interactive', 'payload=not-an-object'),
      // A click on a Retry button without its block_id (which names the step), nor a channel.
      socket.deliver('interactive', {
        type: 'block_actions',
        user: { id: 'U0ALICE' },
        actions: [{ action_id: ACTIONS.retry, type: 'button', value: 'retry' }],
      }),
      // A click on an element no listener knows.
      socket.deliver('interactive', {
        type: 'block_actions',
        user: { id: 'U0ALICE' },
        actions: [{ action_id: 'not_ours', block_id: 'b', type: 'button', value: 'x' }],
      }),
      // An event the app did not subscribe to.
      socket.deliver('events_api', {
        type: 'event_callback',
        team_id: 'T0TEST',
        api_app_id: 'A0TEST',
        event_id: 'Ev0UNKNOWN',
        event: { type: 'no_such_event', event_ts: '1.0' },
      }),
    ];
    for (const id of envelopes) expect((await socket.ackOf(id)).payload).toEqual({});

    // A slash command without its user and channel is acked with the "could not read" answer.
    const {
      user_id: _u,
      channel_id: _c,
      ...unreadable
    } = slashCommandPayload({
      text: 'run echo sneaky',
      user: 'U0ALICE',
      channel: 'C0RUNS',
      responseUrl: h.stub.responseUrl('unreadable'),
    });
    const ack = await socket.ackOf(socket.deliver('slash_commands', unreadable));
    expect(ack.payload.text).toContain('Slack sent something I could not read, so nothing was changed.');
    expectValidMessage(ack.payload);

    await h.settle();
    expect(await rows()).toEqual(before);
    expect(h.stub.calls.slice(callsBefore)).toEqual([]);
    expect(h.stub.responses.slice(responsesBefore)).toEqual([]);
    // The connection is still the first one, and still answers.
    expect(socket.connections.filter((c) => c.closedAt === undefined)).toHaveLength(1);
    expect((await h.answer(await h.command('help'))).text).toBe('How to use /workflow');
  });
});
