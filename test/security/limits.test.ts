import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { waitFor } from '../support/engine.js';
import type { Harness } from '../support/slack-harness.js';
import {
  ALICE,
  BOB,
  declareWorkspace,
  defaultAnswer,
  type Llm,
  OPEN,
  say,
  securityHarness,
} from './support.js';

/**
 * Promise: no one person's input can flood the bot. Each limit is a setting (README's
 * table), and each refusal says what the limit is and what to do, and changes nothing:
 * runs in flight per person (MAX_RUNS_IN_FLIGHT_PER_USER), input size (MAX_INPUT_BYTES).
 * Output size, schedule interval and forced redraws have their own files
 * (model-output, schedules, clicks).
 */

let h: Harness;
let llm: Llm;
let release: () => void = () => {};

beforeAll(async () => {
  ({ h, llm } = await securityHarness({
    env: { MAX_RUNS_IN_FLIGHT_PER_USER: '2', MAX_INPUT_BYTES: '1000' },
  }));
});

beforeEach(async () => {
  release();
  await h.reset();
  llm.answer = defaultAnswer;
  declareWorkspace(h);
});

afterAll(async () => {
  release();
  await h?.close();
});

const runs = () => h.core.db.prisma.workflowRun.count();

describe('abuse limits', () => {
  it('one person may have MAX_RUNS_IN_FLIGHT_PER_USER runs queued or running; others are unaffected', async () => {
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    llm.answer = async (call) => {
      await held;
      return defaultAnswer(call);
    };
    await h.command('run echo one', { user: ALICE, channel: OPEN });
    await h.command('run echo two', { user: ALICE, channel: OPEN });
    await waitFor(async () => (await runs()) === 2, 5000, 'two runs');
    const third = await say(h, 'run echo three', ALICE);
    expect(third).toContain('You already have 2 runs queued or running; the limit is 2 per person');
    expect(third).toContain('/workflow cancel');
    expect(await runs()).toBe(2);
    // Bob is someone else.
    await h.command('run echo bob', { user: BOB });
    await waitFor(async () => (await runs()) === 3, 5000, 'Bob’s run');
    release();
    await waitFor(
      async () => (await h.core.db.prisma.workflowRun.count({ where: { status: 'completed' } })) === 3,
      10_000,
      'the runs to finish',
    );
    // Finished runs no longer count.
    await h.command('run echo four', { user: ALICE });
    await waitFor(async () => (await runs()) === 4, 5000, 'a fourth run');
  });

  it('an input above MAX_INPUT_BYTES is refused with the limit, and nothing starts', async () => {
    const text = await say(h, `run echo ${'é'.repeat(501)}`, ALICE);
    expect(text).toContain('the limit is 1 KB');
    expect(await runs()).toBe(0);
    expect(h.stub.callsOf('chat.postMessage')).toEqual([]);
  });
});
