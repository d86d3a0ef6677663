import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { visibleText } from '../support/block-kit.js';
import { waitFor, waitForRun } from '../support/engine.js';
import {
  type Harness,
  interceptLlms,
  ONE_STEP_YML,
  PERSONAS_YML,
  startHarness,
} from '../support/slack-harness.js';

/** Slack being slow, rate limiting or down never holds up the engine. */

let h: Harness;
/** What the model's answer waits for, if anything. */
let answerAfter: (() => Promise<unknown>) | undefined;

beforeAll(async () => {
  h = await startHarness({ workflows: { 'personas.yml': PERSONAS_YML, 'echo.yml': ONE_STEP_YML } });
  interceptLlms(async (call) => {
    await answerAfter?.();
    return { text: `echo: ${call.prompt}` };
  });
});

beforeEach(() => {
  h.stub.reset();
  answerAfter = undefined;
});

afterAll(async () => {
  await h?.close();
});

describe('when Slack misbehaves', () => {
  it('honours a 429 Retry-After from the Web API and still lands the final state', async () => {
    // Every update is refused once with Retry-After: 1 second.
    h.stub.override('chat.update', { kind: 'ratelimit', retryAfterSeconds: 1 });
    // The answer comes once the step's card is posted, so its completion is an update (a
    // run finished before its first post is posted final, with no update to refuse).
    answerAfter = () =>
      waitFor(() => [...h.stub.messages.values()].some((m) => m.threadTs), 10_000, 'the card posted');
    const before = h.slack.publisher.stats();
    await h.command('run echo first');
    const run = await waitFor(() => h.core.db.prisma.workflowRun.findFirst({ orderBy: { number: 'desc' } }));
    await waitForRun(h.core.db, run.id, ['completed']);
    await h.settle();
    const after = h.slack.publisher.stats();
    expect(after.rateLimited - before.rateLimited).toBe(1);
    const updates = h.stub.callsOf('chat.update');
    // The refused update is sent again no sooner than Retry-After, and nothing is updated meanwhile.
    const [refused, ...rest] = updates;
    const again = rest.find((c) => c.body.ts === refused!.body.ts);
    expect(again!.at - refused!.at).toBeGreaterThanOrEqual(950);
    const queuedBehind = rest.filter((c) => c.at > refused!.at + 100);
    for (const call of queuedBehind) expect(call.at - refused!.at).toBeGreaterThanOrEqual(950);
    const { parent, cards } = await h.thread(run.id);
    expect(visibleText(parent)).toContain('Completed');
    expect(visibleText(cards[0]!)).toContain('echo: first');
    h.expectAllPayloadsValid();
  });

  it('finishes a run while Slack does not answer at all', async () => {
    h.stub.override('chat.postMessage', { kind: 'hang' }, 10);
    const ack = await h.command('run echo second');
    expect(ack.status).toBe(200);
    const run = await waitFor(() =>
      h.core.db.prisma.workflowRun.findFirst({ where: { input: 'second' }, orderBy: { number: 'desc' } }),
    );
    const done = await waitForRun(h.core.db, run.id, ['completed'], 5000);
    expect(done.status).toBe('completed');
    // The parent post is still hanging: nothing was shown, yet nothing waited for it.
    await waitFor(() => h.stub.callsOf('chat.postMessage').length === 1, 5000, 'the parent post');
    await new Promise((r) => setTimeout(r, 100));
    expect(h.stub.callsOf('chat.postMessage')).toHaveLength(1);
    expect(h.stub.messages.size).toBe(0);
  });
});
