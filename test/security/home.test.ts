import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expectValidHome, visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import type { Harness } from '../support/slack-harness.js';
import {
  ADMIN,
  ALICE,
  BOB,
  DM,
  declareWorkspace,
  EVE,
  OPEN,
  OWNER,
  runIn,
  SECRET,
  SECRET_WORDS,
  say,
  securityHarness,
} from './support.js';

/**
 * Promise: the App Home tab is built for the person looking at it. It lists the paused runs,
 * recent runs and schedules of the channels they are in — never another channel's input,
 * error, schedule or step ids (a step id in a button is what a forged click needs) — and
 * the Homes republished when runs change are each built for their own person.
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

const publishes = (user: string) => h.stub.callsOf('views.publish').filter((c) => c.body.user_id === user);

async function homeOf(user: string) {
  const before = publishes(user).length;
  await h.openHome(user);
  await waitFor(() => publishes(user).length > before, 5000, 'views.publish');
  await h.settle();
  const view = publishes(user).at(-1)!.body.view as Record<string, unknown>;
  expectValidHome(view);
  return { view, text: visibleText(view), json: JSON.stringify(view) };
}

describe('App Home', () => {
  it('shows a private channel’s paused run, recent runs and schedules to its members only, and no step id to others', async () => {
    expect(
      await say(h, `schedule add release-notes "0 9 * * 1-5" weekly ${SECRET_WORDS}`, OWNER, SECRET),
    ).toContain('Added');
    const paused = await runIn(h, SECRET, `run release-notes ${SECRET_WORDS}`, { until: ['paused'] });
    const done = await runIn(h, DM, `run echo ${SECRET_WORDS}`);
    const pausedStep = paused.steps.find((s) => s.status === 'paused')!;

    const eve = await homeOf(EVE);
    expect(eve.text).not.toContain(SECRET_WORDS);
    expect(eve.text).not.toContain(`#${paused.number}`);
    expect(eve.text).not.toContain(`#${done.number}`);
    expect(eve.text).toContain('No paused runs');
    expect(eve.text).toContain('No schedules');
    for (const step of [...paused.steps, ...done.steps]) expect(eve.json).not.toContain(step.id);
    expect(eve.json).not.toContain(paused.id);

    const bob = await homeOf(BOB);
    expect(bob.text).toContain(`#${paused.number}`);
    expect(bob.json).toContain(pausedStep.id);
    expect(bob.text).toContain(SECRET_WORDS); // the schedule's input
    // Alice's DM is Alice's.
    expect(bob.text).not.toContain(`#${done.number}`);
    const alice = await homeOf(ALICE);
    expect(alice.text).toContain(`#${done.number}`);
    expect(alice.text).toContain(`#${paused.number}`);
    const admin = await homeOf(ADMIN);
    expect(admin.text).toContain(`#${done.number}`);
  });

  it('republishes each watcher’s own Home when a run pauses', async () => {
    await homeOf(EVE);
    await homeOf(BOB);
    const eveBefore = publishes(EVE).length;
    const bobBefore = publishes(BOB).length;
    const run = await runIn(h, SECRET, `run release-notes ${SECRET_WORDS}`, { until: ['paused'] });
    await waitFor(
      () => publishes(EVE).length > eveBefore && publishes(BOB).length > bobBefore,
      10_000,
      'both Homes republished',
    );
    await waitForRun(h.core.db, run.id, ['paused']);
    await h.settle();
    const eve = JSON.stringify(publishes(EVE).at(-1)!.body.view);
    const bob = JSON.stringify(publishes(BOB).at(-1)!.body.view);
    expect(eve).not.toContain(`#${run.number}`);
    expect(eve).not.toContain(run.steps[1]!.id);
    expect(bob).toContain(`#${run.number}`);
  });

  it('lists the paused runs of the open channel to everyone in it', async () => {
    const run = await runIn(h, OPEN, 'run release-notes public notes', { until: ['paused'] });
    expect((await homeOf(EVE)).text).toContain(`#${run.number}`);
  });
});
