import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { MAX_INPUT_BYTES } from '../../src/engine/runs.js';
import { parseCommand } from '../../src/slack/command-parser.js';
import { expectValidMessage, visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { LlmCall } from '../support/llm-answers.js';
import {
  type Harness,
  interceptLlms,
  ONE_STEP_YML,
  PERSONAS_YML,
  RELEASE_NOTES_YML,
  startHarness,
} from '../support/slack-harness.js';
import { postSigned, SIGNING_SECRET, signature, slashCommandBody } from '../support/slack-requests.js';

/** /workflow through Bolt's HTTP receiver with signed requests. */

let h: Harness;
/** Lets a test hold the provider's answer back. */
let gate: Promise<void> = Promise.resolve();
let llm: LlmCall[];

beforeAll(async () => {
  h = await startHarness({
    workflows: {
      'personas.yml': PERSONAS_YML,
      'release-notes.yml': RELEASE_NOTES_YML,
      'echo.yml': ONE_STEP_YML,
    },
  });
  h.stub.reset();
  llm = interceptLlms(async (call) => {
    await gate;
    return { text: `answer to ${call.prompt}` };
  });
});

afterEach(async () => {
  gate = Promise.resolve();
  await h.reset();
});

afterAll(async () => {
  await h?.close();
});

const tableCounts = async () => {
  const p = h.core.db.prisma;
  return {
    runs: await p.workflowRun.count(),
    steps: await p.runStep.count(),
    audit: await p.auditEvent.count(),
    attempts: await p.stepAttempt.count(),
  };
};

describe('request verification', () => {
  it('answers 401 to a bad signature and does nothing: no rows, no Slack calls', async () => {
    const before = await tableCounts();
    const body = slashCommandBody({
      text: 'run echo hi',
      user: 'U0ALICE',
      channel: 'C0RUNS',
      responseUrl: h.stub.responseUrl('x'),
    });
    const forged = await postSigned(h.eventsUrl, body, 'not-the-secret');
    expect(forged.status).toBe(401);
    const tampered = await postSigned(h.eventsUrl, body.replace('hi', 'bye'), SIGNING_SECRET, {
      timestamp: Math.floor(Date.now() / 1000),
      signature: signature(SIGNING_SECRET, Math.floor(Date.now() / 1000), body),
    });
    expect(tampered.status).toBe(401);
    // A replay of a correctly signed request from 10 minutes ago.
    const old = Math.floor(Date.now() / 1000) - 600;
    const replayed = await postSigned(h.eventsUrl, body, SIGNING_SECRET, { timestamp: old });
    expect(replayed.status).toBe(401);
    await new Promise((r) => setTimeout(r, 100));
    await h.settle();
    expect(await tableCounts()).toEqual(before);
    expect(h.stub.calls).toEqual([]);
    expect(h.stub.responses).toEqual([]);
  });

  it('answers a signed command it cannot read (no user) with a clear error in the ack, and does nothing', async () => {
    const before = await tableCounts();
    const body = new URLSearchParams(
      slashCommandBody({
        text: 'run echo hi',
        user: 'U0ALICE',
        channel: 'C0RUNS',
        responseUrl: h.stub.responseUrl('y'),
      }),
    );
    body.delete('user_id');
    const ack = await postSigned(h.eventsUrl, body.toString(), SIGNING_SECRET);
    expect(ack.status).toBe(200);
    const answer = JSON.parse(ack.text) as Record<string, unknown>;
    expect(answer).toMatchObject({ response_type: 'ephemeral' });
    expectValidMessage(answer);
    expect(visibleText(answer)).toContain('Slack sent something I could not read, so nothing was changed.');
    await h.settle();
    expect(await tableCounts()).toEqual(before);
    expect(h.stub.calls).toEqual([]);
    expect(h.stub.responses).toEqual([]);
  });
});

describe('/workflow run', () => {
  it('acks before the provider answers, then posts the run as a thread', async () => {
    let release!: () => void;
    gate = new Promise((resolve) => {
      release = resolve;
    });
    const ack = await h.command('run echo What is 2+2?');
    expect(ack.status).toBe(200);
    expect(ack.text).toBe('');
    // The provider has been asked (or is about to be) but has not answered: the run is still going.
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { workflowName: 'echo' } }),
    );
    expect(['queued', 'running']).toContain(run.status);
    // The provider has the request and is holding its answer.
    await waitFor(() => llm.some((c) => c.prompt === 'What is 2+2?'), 5000, 'the provider call');
    const answeredAt = Date.now();
    release();
    await waitForRun(h.core.db, run.id, ['completed']);
    expect(ack.at).toBeLessThanOrEqual(answeredAt);
    await h.settle();
    const { parent, cards } = await h.thread(run.id);
    expect(visibleText(parent)).toContain('echo · run #');
    expect(visibleText(parent)).toContain('<@U0ALICE>');
    expect(cards).toHaveLength(1);
    expect(visibleText(cards[0]!)).toContain('answer to What is 2+2?');
    // Success needs no ephemeral answer: the thread is the answer.
    expect(h.stub.responsesTo(ack.responseId)).toEqual([]);
    h.expectAllPayloadsValid();
  });

  it('gives the model the characters the user typed, while Slack shows them escaped', async () => {
    const ack = await h.command('run echo if a &lt; b &amp;&amp; c &gt; d');
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({}));
    expect(run.input).toBe('if a < b && c > d');
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    const { parent } = await h.thread(run.id);
    expect(visibleText(parent)).toContain('if a &lt; b &amp;&amp; c &gt; d');
    expect(ack.status).toBe(200);
    h.expectAllPayloadsValid();
  });

  it('starts one run when the same command arrives twice', async () => {
    const body = slashCommandBody({
      text: 'run echo once',
      user: 'U0ALICE',
      channel: 'C0RUNS',
      responseUrl: h.stub.responseUrl('twice'),
    });
    const [a, b] = await Promise.all([
      postSigned(h.eventsUrl, body, SIGNING_SECRET),
      postSigned(h.eventsUrl, body, SIGNING_SECRET),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await h.settle();
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({}));
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    expect(await h.core.db.prisma.workflowRun.count()).toBe(1);
    expect(h.stub.callsOf('chat.postMessage').filter((c) => c.body.thread_ts === undefined)).toHaveLength(1);
  });

  it('answers an unknown workflow with an ephemeral error and the closest name', async () => {
    const ack = await h.command('run relase-notes v2');
    expect(ack.status).toBe(200);
    const answer = await h.answer(ack);
    expect(answer).toMatchObject({ response_type: 'ephemeral', replace_original: false });
    expect(visibleText(answer)).toContain('No workflow named `relase-notes`');
    expect(visibleText(answer)).toContain('Did you mean `release-notes`?');
    expect(await tableCounts()).toEqual({ runs: 0, steps: 0, audit: 0, attempts: 0 });
    h.expectAllPayloadsValid();
  });

  it('refuses an oversized input and creates nothing', async () => {
    const ack = await h.command(`run echo ${'x'.repeat(MAX_INPUT_BYTES + 10)}`);
    expect(ack.status).toBe(200);
    const answer = await h.answer(ack);
    expect(visibleText(answer)).toContain('the limit is 100 KB');
    expect(await tableCounts()).toEqual({ runs: 0, steps: 0, audit: 0, attempts: 0 });
    expect(h.stub.callsOf('chat.postMessage')).toEqual([]);
    h.expectAllPayloadsValid();
  });

  it('explains a missing workflow name', async () => {
    const ack = await h.command('run');
    const answer = await h.answer(ack);
    expect(visibleText(answer)).toContain('Name the workflow to run.');
    expect(visibleText(answer)).toContain('/workflow run <name> [input]');
  });

  it('tells the user when it cannot post in their channel', async () => {
    h.stub.override('chat.postMessage', { kind: 'error', error: 'not_in_channel' });
    const ack = await h.command('run echo hi', { channel: 'C0PRIVATE' });
    const answer = await h.answer(ack);
    expect(visibleText(answer)).toContain('could not post it here');
    expect(visibleText(answer)).toContain('/invite @Switchboard');
    h.expectAllPayloadsValid();
  });
});

describe('/workflow list, status, cancel, help', () => {
  it('lists the workflows', async () => {
    const ack = await h.command('list');
    const answer = await h.answer(ack);
    const text = visibleText(answer);
    expect(text).toContain('`echo`');
    expect(text).toContain('`release-notes` — Draft release notes from a changelog (3 steps)');
    h.expectAllPayloadsValid();
  });

  it('answers a repeated list in the ack itself, and shows a change made here at once', async () => {
    const first = await h.command('list');
    expect(first.text).toBe('');
    // Acked at once; the list follows on the response_url once read, and is then kept.
    const listed = visibleText(await h.answer(first));
    const again = await h.command('list');
    // Nothing goes to the response_url: the answer is the HTTP response to the command.
    expect(JSON.parse(again.text)).toMatchObject({ response_type: 'ephemeral' });
    expect(visibleText(await h.answer(again))).toBe(listed);
    expect(h.stub.responsesTo(again.responseId)).toEqual([]);

    const file = join(h.config.workflowsDir, 'triage.yml');
    writeFileSync(file, ONE_STEP_YML.replace('name: echo', 'name: triage').replace('One OpenAI', 'Sort'));
    try {
      await h.core.syncWorkflowFiles();
      const after = await h.command('list');
      expect(visibleText(await h.answer(after))).toContain('`triage` — Sort step (1 step)');
    } finally {
      rmSync(file);
    }
    h.expectAllPayloadsValid();
  });

  it('shows one run by number, with a link to its thread', async () => {
    await h.command('run echo hello');
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({}));
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    const ack = await h.command(`status ${run.number}`);
    const answer = await h.answer(ack);
    const text = visibleText(answer);
    expect(text).toContain(`run #${run.number} — :white_check_mark: Completed · 1/1 steps`);
    expect(text).toContain('Open the run thread');
    const recent = await h.command('status');
    const list = await h.answer(recent);
    expect(visibleText(list)).toContain(`*#${run.number}*`);
    const missing = await h.command('status 999');
    const none = await h.answer(missing);
    expect(visibleText(none)).toContain('No run `999`');
    h.expectAllPayloadsValid();
  });

  it('cancels a run for its starter and refuses anyone else', async () => {
    let release!: () => void;
    gate = new Promise((resolve) => {
      release = resolve;
    });
    await h.command('run release-notes notes');
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({}));
    const denied = await h.command(`cancel ${run.number}`, { user: 'U0MALLORY' });
    const refusal = await h.answer(denied);
    expect(visibleText(refusal)).toContain("You can't change run");
    expect((await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).not.toBe(
      'cancelled',
    );

    const ok = await h.command(`cancel #${run.number}`, { user: 'U0ALICE' });
    const done = await h.answer(ok);
    expect(visibleText(done)).toContain(`Cancelled run #${run.number}`);
    release();
    await waitForRun(h.core.db, run.id, ['cancelled']);
    await h.settle();
    const { parent } = await h.thread(run.id);
    expect(visibleText(parent)).toContain('Cancelled');
    h.expectAllPayloadsValid();
  });

  it('helps, and suggests the closest command for a typo, in the ack itself', async () => {
    const help = await h.command('');
    expect(visibleText(JSON.parse(help.text))).toContain('/workflow run <name> [input]');
    const typo = await h.command('stauts 4');
    expect(visibleText(JSON.parse(typo.text))).toContain('Did you mean `status`?');
    const usage = await h.command('cancel');
    expect(JSON.parse(usage.text)).toMatchObject({ response_type: 'ephemeral' });
    expect(h.stub.responses).toEqual([]);
    const health = await h.command('health');
    const text = visibleText(await h.answer(health));
    expect(text).toContain('OpenAI');
    expect(text).toContain('Google Gemini* — not configured');
    h.expectAllPayloadsValid();
  });
});

describe('parseCommand', () => {
  it('keeps everything after the workflow name as the input, newlines included', () => {
    expect(parseCommand('run release-notes  line one\nline two ')).toEqual({
      kind: 'run',
      workflow: 'release-notes',
      input: 'line one\nline two',
    });
    expect(parseCommand('RUN echo')).toEqual({ kind: 'run', workflow: 'echo', input: '' });
    expect(parseCommand('  ')).toEqual({ kind: 'help' });
    expect(parseCommand('status #12')).toEqual({ kind: 'status', run: '#12' });
    expect(parseCommand('cancel')).toMatchObject({ kind: 'usage', subcommand: 'cancel' });
    expect(parseCommand('launch x')).toEqual({ kind: 'unknown', word: 'launch' });
  });
});
