import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EngineEventBus } from '../../src/core/events.js';
import type { GenerateRequest, GenerateResult, Provider } from '../../src/core/provider-spec.js';
import { RunStore, type StepCompletion } from '../../src/db/run-store.js';
import { UNSAVED_MESSAGE } from '../../src/engine/executor.js';
import { ACTIONS, chunkMrkdwn, LIMITS } from '../../src/slack/views/index.js';
import { visibleText } from '../support/block-kit.js';
import { TestClock } from '../support/clock.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import {
  createTestEngine,
  putWorkflow,
  startApiRun,
  step,
  stepCompletion,
  waitFor,
  waitForRun,
} from '../support/engine.js';
import type { Harness } from '../support/slack-harness.js';
import { ALICE, declareWorkspace, defaultAnswer, type Llm, OPEN, runIn, securityHarness } from './support.js';

/**
 * Promise: whatever a model writes cannot stall the bot, lose another run's answer or show
 * the database's words on a card. Output is stored without the characters PostgreSQL
 * refuses, cut (with a note) beyond MAX_OUTPUT_BYTES, and shown in pieces in linear time.
 */

let h: Harness;
let llm: Llm;

beforeAll(async () => {
  ({ h, llm } = await securityHarness({ env: { MAX_OUTPUT_BYTES: '4000' } }));
});

beforeEach(async () => {
  await h.reset();
  llm.answer = defaultAnswer;
  declareWorkspace(h);
});

afterAll(async () => {
  await h?.close();
});

describe('model output', () => {
  it('a NUL character (U+0000) is dropped before storing, and the run completes', async () => {
    llm.answer = () => ({ text: 'before\u0000after' });
    const run = await runIn(h, OPEN, 'run echo hello');
    expect(run.status).toBe('completed');
    expect(run.steps[0]!.output).toBe('beforeafter');
    const { cards } = await h.thread(run.id);
    expect(visibleText(cards[0]!)).toContain('beforeafter');
  });

  it('an output beyond MAX_OUTPUT_BYTES is stored cut, with a note saying so', async () => {
    llm.answer = () => ({ text: `${'é'.repeat(5000)}THE END` });
    const run = await runIn(h, OPEN, 'run echo long');
    const output = run.steps[0]!.output!;
    expect(Buffer.byteLength(output, 'utf8')).toBeLessThanOrEqual(4000);
    expect(output).not.toContain('THE END');
    expect(output).toMatch(
      /Switchboard cut this output at 4 KB: the model wrote 10 KB, more than MAX_OUTPUT_BYTES allows\.\]$/,
    );
  });

  it('a megabyte of backticks is cut into a handful of pieces, and its full output opens', async () => {
    // Before: every piece was one backtick (20,000 pieces for 20,000), each found by walking
    // back over the whole run: 10k backticks blocked the event loop for half a second, 200k for 34 s.
    expect(chunkMrkdwn('`'.repeat(20_000)).length).toBeLessThanOrEqual(10);
    const megabyte = chunkMrkdwn('`'.repeat(1_000_000));
    expect(megabyte.length).toBeLessThanOrEqual(400);
    for (const piece of megabyte) expect(piece.length).toBeLessThanOrEqual(LIMITS.sectionText);
    expect(chunkMrkdwn('`'.repeat(1_000_000), LIMITS.sectionText, 99)).toHaveLength(99);

    llm.answer = () => ({ text: '`'.repeat(3900) });
    const run = await runIn(h, OPEN, 'run echo backticks');
    const { cards } = await h.thread(run.id);
    await h.click(cards[0]!, ACTIONS.viewOutput, { user: ALICE });
    const opened = await waitFor(() => h.stub.callsOf('views.open')[0], 5000, 'views.open');
    expect((opened.body.view as { blocks: unknown[] }).blocks.length).toBeLessThanOrEqual(
      LIMITS.blocksPerView,
    );
  });
});

describe('one bad completion', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase();
  });

  afterAll(async () => {
    await db?.close();
  });

  /** A provider that answers at once, reporting `outputTokens` (a figure the database may refuse). */
  const reporting = (outputTokens: (prompt: string) => number): Provider => ({
    id: 'openai',
    label: 'openai',
    async generate(request: GenerateRequest): Promise<GenerateResult> {
      return {
        text: `answer to ${request.prompt}`,
        usage: { inputTokens: 1, outputTokens: outputTokens(request.prompt) },
        finishReason: 'stop',
        provider: 'openai',
        model: request.model,
      };
    },
    async *stream(request: GenerateRequest) {
      const result = await this.generate(request);
      yield { type: 'text' as const, text: result.text };
      yield { type: 'done' as const, result };
    },
  });

  it('fails alone: completions saved in the same statement are kept', async () => {
    const store = new RunStore(db.prisma, new EngineEventBus(), new TestClock({ realTime: true }), db.query);
    const wf = await putWorkflow(db, { name: 'batch', steps: [step('one', '{{input}}')] });
    const started = new Date();
    const claimed = await Promise.all(
      ['good', 'bad'].map(async (input) => {
        const created = await store.createRun({
          requestKey: null,
          workflowId: wf.id,
          workflowName: 'batch',
          snapshot: {},
          input,
          trigger: 'api',
          startedBy: 'U1',
          channelId: null,
          threadTs: null,
          steps: [
            {
              name: 'one',
              prompt: '{{input}}',
              provider: null,
              model: null,
              personaId: null,
              fallbacks: [],
              retry: null,
              timeoutSeconds: null,
            },
          ],
        });
        if (created === 'duplicate') throw new Error('duplicate');
        const [row] = await store.steps(created.run.id);
        const lease = `test~${input}`;
        const expires = new Date(started.getTime() + 60_000);
        expect(await store.claimStep(row!, { lease, leaseExpiresAt: expires, startedAt: started })).toBe(
          true,
        );
        return { step: row!, lease, input };
      }),
    );
    const done = (lease: string, outputTokens: number): StepCompletion =>
      // Beyond PostgreSQL's integer (2 ** 40): the database refuses this row.
      stepCompletion(lease, { output: 'the answer', outputTokens, startedAt: started });
    // Both in the same turn of the event loop: one statement.
    const results = await Promise.allSettled(
      claimed.map((c) =>
        store.completeStep(c.step, done(c.lease, c.input === 'bad' ? 2 ** 40 : 5), {
          skips: [],
          maybeDone: false,
        }),
      ),
    );
    expect(results[0]).toEqual({ status: 'fulfilled', value: { runCompleted: false, nextClaimed: false } });
    expect(results[1]!.status).toBe('rejected');
    const good = await db.prisma.runStep.findUniqueOrThrow({ where: { id: claimed[0]!.step.id } });
    expect(good.status).toBe('completed');
  });

  it('pauses its step with words for people, not the database’s, and the other run completes', async () => {
    await putWorkflow(db, {
      name: 'tokens',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [step('one', '{{input}}')],
    });
    const engine = createTestEngine(db, [reporting((prompt) => (prompt === 'bad' ? 2 ** 40 : 5))]);
    await engine.start();
    try {
      const [good, bad] = await Promise.all([
        startApiRun(engine, 'tokens', 'good'),
        startApiRun(engine, 'tokens', 'bad'),
      ]);
      await waitForRun(db, good!.id, ['completed']);
      await waitForRun(db, bad!.id, ['paused']);
      const [paused] = await db.prisma.runStep.findMany({ where: { runId: bad!.id } });
      expect(paused!.lastErrorMessage).toBe(UNSAVED_MESSAGE);
      expect(paused!.lastErrorMessage).not.toMatch(/prisma|query|integer|invocation/i);
    } finally {
      await engine.stop(0);
    }
  });
});
