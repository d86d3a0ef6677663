import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/logging.js';
import { Publisher } from '../../src/slack/publisher.js';
import { SLACK_RATE_LIMITS, TokenBucket } from '../../src/slack/rate-limit.js';
import type { MessagePayload } from '../../src/slack/views/model.js';
import { expectValidMessage } from '../support/block-kit.js';
import { settle, TEST_NOW, TestClock } from '../support/clock.js';
import { FakeSlack, networkError, platformError, rateLimited } from '../support/slack-fakes.js';

const state = (n: number | string): MessagePayload => ({
  text: `state ${n}`,
  blocks: [{ type: 'section', block_id: 'body', text: { type: 'mrkdwn', text: `state ${n}` } }],
});

function setup(limits = SLACK_RATE_LIMITS) {
  const clock = new TestClock();
  const slack = new FakeSlack(clock);
  const publisher = new Publisher({ client: slack, logger: silentLogger, clock, limits, retryBaseMs: 100 });
  return { clock, slack, publisher };
}

describe('Publisher', () => {
  it('coalesces 10 rapid updates to one card into at most 2 chat.update calls, the last carrying the final state', async () => {
    const { slack, publisher, clock } = setup();
    slack.hold = true;
    publisher.put({ key: 'step:1', channel: 'C1', ts: '1.1', payload: state(1) });
    await settle();
    expect(slack.callsOf('chat.update')).toHaveLength(1); // in flight
    for (let n = 2; n <= 10; n++) publisher.put({ key: 'step:1', channel: 'C1', payload: state(n) });
    slack.hold = false;
    slack.release();
    await clock.tick(5000);
    expect(await publisher.flush(0)).toBe(true);

    const updates = slack.callsOf('chat.update');
    expect(updates.length).toBeLessThanOrEqual(2);
    expect(updates.at(-1)!.args).toMatchObject({ channel: 'C1', ts: '1.1', text: 'state 10' });
    expect(publisher.stats().coalesced).toBeGreaterThanOrEqual(8);
    for (const call of updates) expectValidMessage(call.args);
  });

  it('sends only the newest state when several arrive before a token is free', async () => {
    const { slack, publisher, clock } = setup();
    for (let n = 1; n <= 10; n++)
      publisher.put({ key: 'step:1', channel: 'C1', ts: '1.1', payload: state(n) });
    await clock.tick(1000);
    expect(slack.callsOf('chat.update').map((c) => c.args.text)).toEqual(['state 10']);
  });

  it('does not send an update that Slack already shows, unless forced', async () => {
    const { slack, publisher, clock } = setup();
    publisher.put({ key: 'k', channel: 'C1', payload: state(1) });
    await clock.tick(10);
    publisher.put({ key: 'k', channel: 'C1', payload: state(1) });
    await clock.tick(10);
    expect(slack.calls.map((c) => c.method)).toEqual(['chat.postMessage']);
    publisher.put({ key: 'k', channel: 'C1', payload: state(1), force: true });
    await clock.tick(10);
    expect(slack.calls.map((c) => c.method)).toEqual(['chat.postMessage', 'chat.update']);
    expect(publisher.stats().unchanged).toBe(1);
  });

  it('honours 429 Retry-After: pauses that method, then sends the newest state', async () => {
    const { slack, publisher, clock } = setup();
    slack.answer('chat.update', rateLimited(30));
    publisher.put({ key: 'step:1', channel: 'C1', ts: '1.1', payload: state(1) });
    await clock.tick(10);
    expect(slack.callsOf('chat.update')).toHaveLength(1);
    publisher.put({ key: 'step:1', channel: 'C1', payload: state(2) });
    // Another card's update waits behind the same Tier 3 bucket; a post to a channel does not.
    publisher.put({ key: 'step:2', channel: 'C1', ts: '1.2', payload: state('other') });
    publisher.put({ key: 'new', channel: 'C2', payload: state('post') });
    await clock.tick(29_000);
    expect(slack.callsOf('chat.update')).toHaveLength(1);
    expect(slack.callsOf('chat.postMessage')).toHaveLength(1);
    await clock.tick(3_000);
    const updates = slack.callsOf('chat.update');
    expect(updates.map((c) => c.args.text)).toEqual(['state 1', 'state 2', 'state other']);
    // The clock starts at TEST_NOW: the second update went 30 s or more after the start.
    expect(updates[1]!.at - TEST_NOW.getTime()).toBeGreaterThanOrEqual(30_000);
    expect(publisher.stats()).toMatchObject({ rateLimited: 1, failures: 0 });
  });

  it('never blocks its caller: put() returns at once even while Slack does not answer', async () => {
    const { slack, publisher } = setup();
    slack.hold = true;
    // put() is synchronous (it returns void, not a promise): reaching the next line with
    // Slack holding every call is the proof that it never waits on Slack.
    for (let i = 0; i < 500; i++)
      publisher.put({ key: `step:${i}`, channel: `C${i % 7}`, payload: state(i) });
    expect(await publisher.flush(0)).toBe(false);
    publisher.close();
  });

  it('posts a reply only after its parent exists, into the parent’s thread', async () => {
    const { slack, publisher, clock } = setup();
    slack.hold = true;
    publisher.put({ key: 'run:1', channel: 'C1', payload: state('parent') });
    publisher.put({ key: 'step:a', channel: 'C1', threadOf: 'run:1', payload: state('a') });
    publisher.put({ key: 'step:b', channel: 'C1', threadOf: 'run:1', payload: state('b') });
    await clock.tick(10);
    expect(slack.calls.map((c) => c.args.text)).toEqual(['state parent']);
    slack.hold = false;
    slack.release();
    await clock.tick(5000);
    const posts = slack.callsOf('chat.postMessage');
    expect(posts.map((c) => c.args.text)).toEqual(['state parent', 'state a', 'state b']);
    expect(posts[1]!.args.thread_ts).toBe(publisher.tsOf('run:1'));
    expect(posts[2]!.args.thread_ts).toBe(publisher.tsOf('run:1'));
  });

  it('keeps chat.postMessage to about one per second per channel after a short burst', async () => {
    const { slack, publisher, clock } = setup();
    for (let i = 0; i < 6; i++) publisher.put({ key: `m${i}`, channel: 'C1', payload: state(i) });
    publisher.put({ key: 'elsewhere', channel: 'C2', payload: state('c2') });
    await clock.tick(10);
    // A burst of 2, one under Slack's 3: the token Slack keeps absorbs jitter (rate-limit.ts).
    expect(slack.callsOf('chat.postMessage').map((c) => c.args.channel)).toEqual(['C1', 'C1', 'C2']);
    // After the burst, 0.9 a second: 10% under Slack's figure, for jitter.
    await clock.tick(4500);
    const times = slack
      .callsOf('chat.postMessage')
      .filter((c) => c.args.channel === 'C1')
      .map((c) => c.at);
    expect(times).toHaveLength(6);
    expect(times[2]! - times[1]!).toBeGreaterThanOrEqual(900);
    expect(times[3]! - times[2]!).toBeGreaterThanOrEqual(900);
  });

  it('retries a network failure with backoff and gives up on an error Slack will repeat', async () => {
    const { slack, publisher, clock } = setup();
    const failed: string[] = [];
    slack.answer('chat.postMessage', networkError(), platformError('internal_error'));
    publisher.put({ key: 'a', channel: 'C1', payload: state('a') });
    await clock.tick(2000);
    expect(slack.callsOf('chat.postMessage')).toHaveLength(3);
    expect(publisher.tsOf('a')).toBeDefined();

    slack.answer('chat.postMessage', platformError('not_in_channel'));
    publisher.put({
      key: 'b',
      channel: 'C9',
      payload: state('b'),
      onFailed: (e) => failed.push(e.slackError),
    });
    publisher.put({ key: 'b-reply', channel: 'C9', threadOf: 'b', payload: state('reply') });
    await clock.tick(1000);
    expect(failed).toEqual(['not_in_channel']);
    expect(slack.callsOf('chat.postMessage').filter((c) => c.args.channel === 'C9')).toHaveLength(1);
    expect(publisher.stats()).toMatchObject({ retries: 2, failures: 1 });
    expect(await publisher.flush(0)).toBe(true);
  });

  it('posts a message again when someone deleted it', async () => {
    const { slack, publisher, clock } = setup();
    const posted: string[] = [];
    slack.answer('chat.update', platformError('message_not_found'));
    publisher.put({
      key: 'k',
      channel: 'C1',
      ts: '1.1',
      payload: state(2),
      onPosted: ({ ts }) => void posted.push(ts),
    });
    await clock.tick(10);
    expect(slack.calls.map((c) => c.method)).toEqual(['chat.update', 'chat.postMessage']);
    expect(posted).toHaveLength(1);
    expect(publisher.tsOf('k')).toBe(posted[0]);
  });

  it('saves the ts of a first post through onPosted, once', async () => {
    const { publisher, clock } = setup();
    const posted: { ts: string; channel: string }[] = [];
    publisher.put({ key: 'k', channel: 'C1', payload: state(1), onPosted: (p) => void posted.push(p) });
    await clock.tick(10);
    publisher.put({ key: 'k', channel: 'C1', payload: state(2) });
    await clock.tick(10);
    expect(posted).toEqual([{ ts: publisher.tsOf('k'), channel: 'C1' }]);
    expect(await publisher.whenPosted('k')).toBe(posted[0]!.ts);
  });

  it('waits for a message not asked for yet, and gives up after its bound', async () => {
    const { publisher, clock } = setup();
    // A step's first text can come before the renderer has asked for the run's parent.
    const early = publisher.whenPosted('parent', 5_000);
    const never = publisher.whenPosted('other', 5_000);
    await clock.tick(100);
    publisher.put({ key: 'parent', channel: 'C1', payload: state(1) });
    await clock.tick(10);
    expect(await early).toBe(publisher.tsOf('parent'));
    await clock.tick(5_000);
    expect(await never).toBeUndefined();
    // Closing answers whoever still waits.
    const closing = publisher.whenPosted('late', 60_000);
    publisher.close();
    expect(await closing).toBeUndefined();
  });
});

describe('priorities when the budget is short', () => {
  it('sends a paused step and its alert first, then completions, then progress', async () => {
    const { slack, publisher, clock } = setup({
      ...SLACK_RATE_LIMITS,
      'chat.update': { perSecond: 1, burst: 1 },
    });
    // The one token goes to the first edit; the others wait for the next ones.
    publisher.put({ key: 'first', channel: 'C1', ts: '1.0', payload: state('first') });
    publisher.put({ key: 'running', channel: 'C1', ts: '1.1', payload: state('running'), changing: true });
    publisher.put({ key: 'done', channel: 'C1', ts: '1.2', payload: state('done') });
    publisher.put({
      key: 'paused',
      channel: 'C1',
      ts: '1.3',
      payload: state('paused'),
      priority: 'attention',
    });
    await clock.tick(5000);
    expect(slack.callsOf('chat.update').map((c) => c.args.text)).toEqual([
      'state first',
      'state paused',
      'state done',
      'state running',
    ]);
  });

  it('ranks a message by its newest state: progress that settles moves up', async () => {
    const { slack, publisher, clock } = setup({
      ...SLACK_RATE_LIMITS,
      'chat.update': { perSecond: 1, burst: 1 },
    });
    publisher.put({ key: 'first', channel: 'C1', ts: '1.0', payload: state('first') });
    publisher.put({
      key: 'other',
      channel: 'C1',
      ts: '1.1',
      payload: state('other running'),
      changing: true,
    });
    publisher.put({ key: 'step', channel: 'C1', ts: '1.2', payload: state('step running'), changing: true });
    publisher.put({ key: 'step', channel: 'C1', payload: state('step done') });
    await clock.tick(5000);
    expect(slack.callsOf('chat.update').map((c) => c.args.text)).toEqual([
      'state first',
      'state step done',
      'state other running',
    ]);
  });
});

describe('states another process sends', () => {
  it('refreshes a state still waiting here, and starts no send of its own', async () => {
    const { slack, publisher, clock } = setup({
      ...SLACK_RATE_LIMITS,
      'chat.update': { perSecond: 1, burst: 1 },
    });
    publisher.put({ key: 'first', channel: 'C1', ts: '1.0', payload: state('first') });
    publisher.put({ key: 'waiting', channel: 'C1', ts: '1.1', payload: state('running'), changing: true });
    // Another process completed both: this one must not send 'running' after it…
    publisher.put({
      key: 'waiting',
      channel: 'C1',
      ts: '1.1',
      payload: state('completed'),
      refreshOnly: true,
    });
    // …and leaves a message with nothing waiting here to the process that changed it.
    publisher.put({ key: 'idle', channel: 'C1', ts: '1.2', payload: state('completed'), refreshOnly: true });
    await clock.tick(5000);
    expect(slack.callsOf('chat.update').map((c) => c.args.text)).toEqual(['state first', 'state completed']);
    expect(slack.callsOf('chat.update').map((c) => c.args.ts)).toEqual(['1.0', '1.1']);
  });
});

describe('TokenBucket', () => {
  it('hands out a burst, then one token per interval, in call order', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ perSecond: 2, burst: 2 }, clock);
    const order: number[] = [];
    for (let i = 0; i < 5; i++) void bucket.take().then(() => order.push(i));
    await settle();
    expect(order).toEqual([0, 1]);
    await clock.tick(500);
    expect(order).toEqual([0, 1, 2]);
    await clock.tick(1000);
    expect(order).toEqual([0, 1, 2, 3, 4]);
  });

  it('gives nothing while paused', async () => {
    const clock = new TestClock();
    const bucket = new TokenBucket({ perSecond: 10, burst: 5 }, clock);
    bucket.pause(2000);
    let got = false;
    void bucket.take().then(() => {
      got = true;
    });
    await clock.tick(1999);
    expect(got).toBe(false);
    await clock.tick(200);
    expect(got).toBe(true);
  });
});
