import { describe, expect, it } from 'vitest';
import { EngineEventBus } from '../../src/core/events.js';
import { silentLogger } from '../../src/logging.js';
import { LiveOutput } from '../../src/slack/live-output.js';
import { Publisher } from '../../src/slack/publisher.js';
import type { RateLimits } from '../../src/slack/rate-limit.js';
import { settle, TestClock } from '../support/clock.js';
import { FakeSlack } from '../support/slack-fakes.js';

/**
 * The fair share of live output (docs/slack.md, "Live output"), on the real publisher and
 * token buckets with a test clock: each live step has one call waiting at a time, its text
 * is what arrived until its token came (coalesced), and the steps take turns.
 */

const LIMITS: RateLimits = {
  'chat.startStream': { perSecond: 100, burst: 100 },
  // One append a second for everyone: the scarce budget the steps share.
  'chat.appendStream': { perSecond: 1, burst: 1 },
  'chat.stopStream': { perSecond: 100, burst: 100 },
  'chat.delete': { perSecond: 100, burst: 100 },
  'chat.update': { perSecond: 1, burst: 1 },
};

function setup(steps: string[]) {
  const clock = new TestClock();
  const slack = new FakeSlack(clock);
  slack.answer(
    'chat.startStream',
    ...steps.map((_, i) => ({ ok: true, channel: 'C0RUNS', ts: `1700000001.00000${i}` })),
  );
  const publisher = new Publisher({ client: slack, logger: silentLogger, clock, limits: LIMITS });
  const recorded = new Map<string, string | null>();
  const events = new EngineEventBus();
  const live = new LiveOutput({
    publisher,
    logger: silentLogger,
    limits: LIMITS,
    clock,
    redraw: () => {},
    teamId: async () => 'T0TEST',
    store: {
      swapLiveTs: async (stepId, ts) => {
        const before = recorded.get(stepId) ?? null;
        recorded.set(stepId, ts);
        return before;
      },
      takeLiveTs: async (stepId, ts) => {
        const before = recorded.get(stepId) ?? null;
        if (!before || (ts !== undefined && ts !== before)) return null;
        recorded.set(stepId, null);
        return before;
      },
    },
    reads: {
      runWithSteps: (async (runId: string) => ({
        id: runId,
        channelId: 'C0RUNS',
        threadTs: '1700000000.000001',
        inThreadTs: null,
        startedBy: 'U0ALICE',
        steps: steps.map((id, position) => ({ id, name: id, position, status: 'running' })),
      })) as never,
      thread: (async () => ({ channelId: 'C0RUNS', threadTs: '1700000000.000001' })) as never,
    },
  });
  live.attach(events);
  const say = (stepId: string, text: string, reset = false, attempt = 1) =>
    events.safeEmit('step.output', { runId: 'run1', stepId, attempt, text, reset });
  return { clock, slack, live, events, say, recorded };
}

const textOf = (args: Record<string, unknown>) => String(args.markdown_text ?? '');

describe('live output shares appendStream fairly', () => {
  it('coalesces each step’s text since its last append, and gives every step its turn', async () => {
    const steps = ['A', 'B', 'C'];
    const { clock, slack, say } = setup(steps);
    for (const id of steps) say(id, `${id}0 `, true);
    await settle(20);
    expect(slack.callsOf('chat.startStream')).toHaveLength(3);
    // Ten more deltas per step while the bucket lets one append a second through.
    for (let round = 0; round < 12; round++) {
      for (const id of steps) say(id, `${id}${round + 1} `);
      await clock.tick(1000);
      await settle(20);
    }
    for (let i = 0; i < 10; i++) {
      await clock.tick(1000);
      await settle(20);
    }
    const appends = slack.callsOf('chat.appendStream');
    // Coalesced: far fewer appends than deltas, and each step's appends add up to its text, in order.
    expect(appends.length).toBeLessThan(3 * 13);
    for (const [i, id] of steps.entries()) {
      const mine = appends.filter((c) => c.args.ts === `1700000001.00000${i}`).map((c) => textOf(c.args));
      expect(mine.join('')).toBe(Array.from({ length: 13 }, (_, n) => `${id}${n} `).join(''));
    }
    // Fair: while all three have text waiting, the appends go round: A, B, C, A, B, C…
    const order = appends.slice(0, 9).map((c) => String(c.args.ts).slice(-1));
    for (let i = 3; i < order.length; i++) expect(order[i]).toBe(order[i - 3]);
    expect(new Set(order.slice(0, 3)).size).toBe(3);
  });

  it('a new attempt voids what the last one showed: its stream is stopped and deleted, never appended to', async () => {
    const { clock, slack, say, recorded } = setup(['A']);
    slack.answer('chat.startStream', { ok: true, channel: 'C0RUNS', ts: '1700000002.000000' });
    say('A', 'first attempt ', true, 1);
    await settle(20);
    say('A', 'second attempt ', true, 2);
    for (let i = 0; i < 5; i++) {
      await clock.tick(1000);
      await settle(20);
    }
    const firstTs = '1700000001.000000';
    expect(slack.callsOf('chat.stopStream').map((c) => c.args.ts)).toContain(firstTs);
    expect(slack.callsOf('chat.delete').map((c) => c.args.ts)).toContain(firstTs);
    const appended = slack.callsOf('chat.appendStream');
    expect(appended.filter((c) => c.args.ts === firstTs).map((c) => textOf(c.args))).toEqual([
      'first attempt ',
    ]);
    expect(appended.filter((c) => c.args.ts !== firstTs).map((c) => textOf(c.args))).toEqual([
      'second attempt ',
    ]);
    expect(recorded.get('A')).toBe('C0RUNS/1700000002.000000');
  });
});
