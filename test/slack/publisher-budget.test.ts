import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging.js';
import { Publisher } from '../../src/slack/publisher.js';
import { type RateLimits, SLACK_RATE_LIMITS } from '../../src/slack/rate-limit.js';
import type { MessagePayload } from '../../src/slack/views/model.js';
import { TestClock } from '../support/clock.js';
import { FakeSlack } from '../support/slack-fakes.js';

/**
 * Slack's chat.update budget (Tier 3, about 50 a minute per workspace) is what keeps cards
 * current under load: redraws that change nothing must not spend it, settled states go
 * first, and messages whose state will change are not posted faster than it can follow.
 */

const state = (text: string): MessagePayload => ({
  text,
  blocks: [{ type: 'section', block_id: 'body', text: { type: 'mrkdwn', text } }],
});

/** chat.update: 2 at once, then one a minute; budget = burst (horizon 0) = 2 changing messages. */
const TIGHT: RateLimits = {
  ...SLACK_RATE_LIMITS,
  'chat.postMessage': { perSecond: 100, burst: 100, perChannel: true },
  'chat.update': { perSecond: 1 / 60, burst: 2 },
};

function setup() {
  const clock = new TestClock();
  const slack = new FakeSlack(clock);
  const publisher = new Publisher({
    client: slack,
    logger: silentLogger,
    clock,
    limits: TIGHT,
    editHorizonMs: 0,
  });
  const texts = (method: string) => slack.callsOf(method).map((c) => c.args.text);
  return { clock, slack, publisher, texts };
}

describe('Publisher and the chat.update budget', () => {
  it('spends no chat.update token on a redraw that changes nothing', async () => {
    const { clock, publisher, texts } = setup();
    publisher.put({ key: 'k', channel: 'C1', payload: state('v1') });
    await clock.tick(10);
    for (let i = 0; i < 50; i++) {
      publisher.put({ key: 'k', channel: 'C1', payload: state('v1') });
      await clock.tick(10);
    }
    publisher.put({ key: 'k', channel: 'C1', payload: state('v2') });
    await clock.tick(10);
    expect(texts('chat.update')).toEqual(['v2']);
    expect(publisher.stats().unchanged).toBe(50);
  });

  it('holds back the first post of a changing message while others owe updates, and posts it once settled', async () => {
    const { clock, publisher, texts } = setup();
    for (const n of [1, 2, 3])
      publisher.put({ key: `m${n}`, channel: `C${n}`, payload: state(`m${n} running`), changing: true });
    await clock.tick(10);
    expect(texts('chat.postMessage')).toEqual(['m1 running', 'm2 running']);

    publisher.put({ key: 'm3', channel: 'C3', payload: state('m3 done') });
    await clock.tick(10);
    expect(texts('chat.postMessage')).toEqual(['m1 running', 'm2 running', 'm3 done']);
    expect(texts('chat.update')).toEqual([]);
  });

  it('lets a held message go when an owed update brings its message to a settled state', async () => {
    const { clock, publisher, texts } = setup();
    for (const n of [1, 2, 3])
      publisher.put({ key: `m${n}`, channel: `C${n}`, payload: state(`m${n} running`), changing: true });
    await clock.tick(10);
    publisher.put({ key: 'm1', channel: 'C1', payload: state('m1 done') });
    await clock.tick(10);
    expect(texts('chat.update')).toEqual(['m1 done']);
    expect(texts('chat.postMessage')).toEqual(['m1 running', 'm2 running', 'm3 running']);
  });

  it('sends settled states before progress that will be replaced anyway', async () => {
    const { clock, publisher, texts } = setup();
    publisher.put({ key: 'a', channel: 'C1', payload: state('a running'), changing: true });
    publisher.put({ key: 'b', channel: 'C2', payload: state('b running'), changing: true });
    await clock.tick(10);
    // Spend the burst, then queue a progress update before a final one.
    publisher.put({ key: 'x', channel: 'C3', ts: '1.1', payload: state('x 1') });
    publisher.put({ key: 'y', channel: 'C4', ts: '1.2', payload: state('y 1') });
    await clock.tick(10);
    publisher.put({ key: 'a', channel: 'C1', payload: state('a step 2'), changing: true });
    publisher.put({ key: 'b', channel: 'C2', payload: state('b done') });
    await clock.tick(61_000);
    expect(texts('chat.update')).toEqual(['x 1', 'y 1', 'b done']);
    await clock.tick(60_000);
    expect(texts('chat.update')).toEqual(['x 1', 'y 1', 'b done', 'a step 2']);
  });
});
