import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ACTIONS } from '../../src/slack/views/index.js';
import { visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { InProcessAnswer, LlmCall } from '../support/llm-answers.js';
import { type OpenAIStub, startOpenAIStub } from '../support/openai-stub.js';
import type { StubMessage } from '../support/slack-api-stub.js';
import { type Harness, interceptLlms, PERSONAS_YML, startHarness } from '../support/slack-harness.js';

/**
 * Live output (docs/slack.md, "Live output"), end to end: the real provider SDKs streaming
 * SSE bodies (nock), Bolt with signed requests, and the Web API stand-in's chat.*Stream
 * methods, which check what is sent as Slack documents it.
 */

const ONE_STEP = `name: echo
description: One OpenAI step
provider: openai
model: gpt-4o-mini
steps:
  - name: answer
    prompt: "{{input}}"
`;

const WITH_FALLBACK = `name: fallback
description: Anthropic first, OpenAI if it fails
provider: anthropic
model: claude-haiku-4-5
fallbacks: [openai/gpt-4o-mini]
steps:
  - name: draft
    prompt: "{{input}}"
`;

/** Gates not opened yet: a failed test opens them, so the next one starts from a quiet bot. */
const gates = new Set<() => void>();

/** A gate a streamed answer waits on before its next delta. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  gates.add(open);
  return { wait: () => opened, open: () => open() };
}

const streamsIn = (h: Harness) => [...h.stub.messages.values()].filter((m) => m.streaming !== undefined);
const liveWith = (h: Harness, text: string) =>
  streamsIn(h).find((m) => m.streaming === true && m.text.includes(text));

describe('live output of a running step (signed requests, SSE through the real SDKs)', () => {
  let h: Harness;
  let answer: (call: LlmCall) => InProcessAnswer | Promise<InProcessAnswer>;
  let llm: LlmCall[];

  beforeAll(async () => {
    h = await startHarness({
      workflows: { 'personas.yml': PERSONAS_YML, 'echo.yml': ONE_STEP, 'fallback.yml': WITH_FALLBACK },
      env: { RETRY_MAX_ATTEMPTS: '1' },
    });
    llm = interceptLlms((call) => answer(call));
  });

  afterEach(async () => {
    for (const open of gates) open();
    gates.clear();
    await h.reset();
  });

  afterAll(async () => {
    await h?.close();
  });

  /** The run, once its parent is posted (its threadTs a Slack ts). */
  async function runOf(workflow: string) {
    return waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({
        where: { workflowName: workflow, threadTs: { startsWith: '1' } },
      }),
    );
  }

  async function expectOneCardPerStep(runId: string, steps: number) {
    const { cards, notes } = await h.thread(runId);
    expect(cards).toHaveLength(steps);
    expect(notes).toEqual([]);
    expect(h.stub.openStreams()).toEqual([]);
    const run = await h.core.db.prisma.workflowRun.findUniqueOrThrow({ where: { id: runId } });
    expect(h.stub.thread(run.channelId!, run.threadTs!)).toHaveLength(steps);
    const recorded = await h.core.db.prisma.runStep.findMany({ where: { runId, liveTs: { not: null } } });
    expect(recorded).toEqual([]);
    return cards as StubMessage[];
  }

  it('streams the text into the thread before the step completes, then leaves one card holding it', async () => {
    const held = gate();
    answer = () => ({
      text: 'Hello world, again.',
      chunks: ['Hello ', 'world, ', 'again.'],
      pace: async (i) => {
        if (i === 2) await held.wait();
      },
    });
    await h.command('run echo say hello');
    const run = await runOf('echo');

    const live = await waitFor(() => liveWith(h, 'Hello world,'), 10_000, 'live text in the thread');
    // Recorded on the step, so a stream a stopped process leaves open is closed by the next one.
    const step = await waitFor(() =>
      h.core.db.prisma.runStep.findFirst({ where: { runId: run.id, liveTs: { not: null } } }),
    );
    expect(step.status).toBe('running');
    expect(step.output).toBeNull();
    // In a channel, a stream is addressed to the person who started the run, in the run's thread,
    // and its task timeline names the step that runs.
    const start = h.stub.callsOf('chat.startStream')[0]!.body;
    expect(start).toMatchObject({
      channel: 'C0RUNS',
      recipient_user_id: 'U0ALICE',
      recipient_team_id: 'T0TEST',
      thread_ts: run.threadTs,
    });
    expect(live.threadTs).toBe(run.threadTs);
    expect(live.tasks?.[0]).toMatchObject({
      type: 'task_update',
      title: 'Step 1/1 · answer',
      status: 'in_progress',
    });
    expect(step.liveTs).toBe(`C0RUNS/${live.ts}`);

    held.open();
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    const [card] = await expectOneCardPerStep(run.id, 1);
    expect(visibleText(card!)).toContain('Hello world, again.');
    expect(visibleText(card!)).not.toContain('Writing…');
    // The stream was stopped with its task complete, then deleted: the card holds the output.
    expect(h.stub.callsOf('chat.stopStream').at(-1)!.body.chunks).toEqual([
      expect.objectContaining({ type: 'task_update', status: 'complete' }),
    ]);
    expect(h.stub.callsOf('chat.delete').map((c) => c.body.ts)).toContain(live.ts);
    // Stored once, as before: the final output, not per token.
    const done = await h.core.db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
    expect(done.output).toBe('Hello world, again.');
  });

  it('a mid-stream overload followed by a fallback shows only the fallback’s text', async () => {
    const cut = gate();
    const second = gate();
    answer = (call) =>
      call.provider === 'anthropic'
        ? {
            text: 'PARTIAL-ANTHROPIC',
            chunks: ['PARTIAL-ANTHROPIC ', 'more'],
            pace: () => cut.wait(),
            cut: { type: 'overloaded_error', message: 'Overloaded' },
          }
        : {
            text: 'FALLBACK-OPENAI answer',
            chunks: ['FALLBACK-OPENAI ', 'answer'],
            pace: () => second.wait(),
          };
    await h.command('run fallback write it');
    const run = await runOf('fallback');

    const first = await waitFor(() => liveWith(h, 'PARTIAL-ANTHROPIC'), 10_000, 'the first attempt’s text');
    cut.open();
    const next = await waitFor(() => liveWith(h, 'FALLBACK-OPENAI'), 10_000, 'the fallback’s text');
    // Replaced, never concatenated: the first attempt's stream is gone, the new one has only its own text.
    expect(next.text).not.toContain('PARTIAL');
    await waitFor(() => !h.stub.messages.has(`C0RUNS:${first.ts}`), 10_000, 'the void stream deleted');
    expect(h.stub.openStreams().map((m) => m.text)).toEqual(['FALLBACK-OPENAI ']);

    second.open();
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    const [card] = await expectOneCardPerStep(run.id, 1);
    expect(visibleText(card!)).toContain('FALLBACK-OPENAI answer');
    expect(visibleText(card!)).not.toContain('PARTIAL');
    expect(llm.map((c) => c.provider).slice(-2)).toEqual(['anthropic', 'openai']);
  });

  it('shows the text on the card when Slack refuses to stream, at a throttled pace', async () => {
    h.stub.override('chat.startStream', { kind: 'error', error: 'unknown_method' });
    const held = gate();
    answer = () => ({
      text: 'Card mode text here.',
      chunks: ['Card mode ', 'text here.'],
      pace: () => held.wait(),
    });
    await h.command('run echo on the card');
    const run = await runOf('echo');
    await waitFor(
      async () => {
        const { cards } = await h.thread(run.id).catch(() => ({ cards: [] as StubMessage[] }));
        return cards[0] && visibleText(cards[0]).includes('Card mode') ? cards[0] : undefined;
      },
      15_000,
      'live text on the card',
    );
    expect(h.stub.openStreams()).toEqual([]);
    held.open();
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    const [card] = await expectOneCardPerStep(run.id, 1);
    expect(visibleText(card!)).toContain('Card mode text here.');
    expect(visibleText(card!)).not.toContain('Writing…');
  });
});

describe('cancelling a run mid-stream', () => {
  let h: Harness;
  let server: OpenAIStub;
  let release = () => {};

  beforeAll(async () => {
    // A real server: aborting a nock body mid-stream trips undici (test/providers/support.ts).
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    server = await startOpenAIStub(() => ({
      text: 'never finished',
      chunks: ['Started writing ', 'never finished'],
      pace: () => held,
    }));
    h = await startHarness({
      workflows: { 'personas.yml': PERSONAS_YML, 'echo.yml': ONE_STEP },
      env: { OPENAI_BASE_URL: server.baseUrl },
    });
  });

  afterAll(async () => {
    release();
    await h?.close();
    await server?.close();
  });

  it('stops the stream and deletes it; the cancelled card stays', async () => {
    await h.command('run echo to be cancelled');
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({
        where: { workflowName: 'echo', threadTs: { startsWith: '1' } },
      }),
    );
    const live = await waitFor(() => liveWith(h, 'Started writing'), 10_000, 'live text');
    const { parent } = await h.thread(run.id);
    await h.click(parent, ACTIONS.runCancel, { user: 'U0ALICE' });
    await waitForRun(h.core.db, run.id, ['cancelled']);
    await h.settle();
    await waitFor(() => !h.stub.messages.has(`C0RUNS:${live.ts}`), 10_000, 'the stream deleted');
    expect(h.stub.callsOf('chat.stopStream').at(-1)!.body).toMatchObject({ ts: live.ts });
    expect(h.stub.openStreams()).toEqual([]);
    const { cards } = await h.thread(run.id);
    expect(cards).toHaveLength(1);
    expect(visibleText(cards[0]!)).toContain('Cancelled');
    expect(h.stub.thread('C0RUNS', run.threadTs!)).toHaveLength(1);
  });
});
