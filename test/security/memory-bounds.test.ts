import { describe, expect, it } from 'vitest';
import { BoundedMap, RateWindow } from '../../src/core/bounded-map.js';
import { EngineEventBus } from '../../src/core/events.js';
import { silentLogger } from '../../src/logging.js';
import { Publisher } from '../../src/slack/publisher.js';
import { FAILURE_LISTENER_TTL_MS, MAX_REMEMBERED_RUNS, Renderer } from '../../src/slack/renderer.js';
import { TestClock } from '../support/clock.js';
import { FakeSlack } from '../support/slack-fakes.js';

/**
 * Promise: what the bot remembers in memory is bounded, whatever people and models do:
 * a process that runs for months holds no more than its limits (run thread permalinks,
 * "tell me if this run cannot be posted" listeners, runs Slack refused for good, membership
 * and per-person counters all live in bounded maps, least recently used dropped first).
 */

/**
 * A renderer whose reads of a run wait until the test releases them (`released`, in order),
 * recording which runs were read (`loaded`) and how many were being read at once (`most`).
 */
function heldRenderer(concurrency: number) {
  const released: (() => void)[] = [];
  const loaded: string[] = [];
  let reading = 0;
  const seen = { most: 0 };
  const renderer = new Renderer({
    store: { claimMessage: async () => false, setCardTs: async () => {} },
    runs: {} as never,
    views: {
      load: async (runId: string) => {
        loaded.push(runId);
        seen.most = Math.max(seen.most, ++reading);
        await new Promise<void>((resolve) => released.push(resolve));
        reading--;
        return undefined;
      },
    } as never,
    publisher: new Publisher({ client: new FakeSlack(), logger: silentLogger }),
    logger: silentLogger,
    owner: 'test',
    concurrency,
  });
  return { renderer, released, loaded, seen };
}

describe('in-process memory', () => {
  it('the renderer remembers at most MAX_REMEMBERED_RUNS parent-failure listeners, each for a while', () => {
    const clock = new TestClock();
    const renderer = new Renderer({
      store: { claimMessage: async () => false, setCardTs: async () => {} },
      runs: {} as never,
      views: {} as never,
      publisher: new Publisher({ client: new FakeSlack(), logger: silentLogger }),
      logger: silentLogger,
      owner: 'test',
      clock,
    });
    for (let i = 0; i < MAX_REMEMBERED_RUNS + 500; i++) renderer.onParentFailure(`run-${i}`, () => {});
    expect(renderer.remembered().failureListeners).toBe(MAX_REMEMBERED_RUNS);
    expect(renderer.remembered().unpostable).toBe(0);
  });

  it('the renderer reads at most `concurrency` runs at once; the others wait their turn holding only their flags', async () => {
    const { renderer, released, loaded, seen } = heldRenderer(2);
    for (let i = 0; i < 5; i++) renderer.schedule(`run-${i}`);
    await turns(() => loaded.length === 2);
    // Marked again while waiting: folded into its one pass.
    renderer.schedule('run-4');
    while (released.length > 0) {
      released.shift()!();
      await turns(() => released.length > 0 || loaded.length === 5);
    }
    await renderer.idle();
    expect(loaded).toEqual(['run-0', 'run-1', 'run-2', 'run-3', 'run-4']);
    expect(seen.most).toBe(2);
  });

  it('a run whose step or run settled is drawn before runs that only progressed', async () => {
    const { renderer, released, loaded } = heldRenderer(1);
    const events = new EngineEventBus();
    renderer.attach(events);
    const moved = (runId: string, to: 'running' | 'completed') =>
      events.emit('step.changed', { runId, stepId: `${runId}-s`, to, actor: 'engine' });
    moved('run-0', 'running');
    await turns(() => loaded.length === 1);
    moved('run-1', 'running');
    moved('run-2', 'running');
    moved('run-3', 'completed');
    await turns(() => false, 5);
    while (loaded.length < 4) {
      released.shift()?.();
      await turns(() => released.length > 0);
    }
    released.shift()?.();
    await renderer.idle();
    expect(loaded).toEqual(['run-0', 'run-3', 'run-1', 'run-2']);
  });

  it('runs waiting for their turn end without being read when the renderer stops', async () => {
    const { renderer, released, loaded } = heldRenderer(1);
    for (let i = 0; i < 3; i++) renderer.schedule(`run-${i}`);
    await turns(() => loaded.length === 1);
    renderer.stop();
    released.shift()?.();
    await renderer.idle();
    expect(loaded).toEqual(['run-0']);
  });

  it('a bounded map drops the least recently used first, and forgets entries past their time', () => {
    const clock = new TestClock();
    const map = new BoundedMap<string, number>({ max: 3, ttlMs: FAILURE_LISTENER_TTL_MS, clock });
    map.set('a', 1).set('b', 2).set('c', 3);
    expect(map.get('a')).toBe(1); // a is now the most recent
    map.set('d', 4);
    expect(map.has('b')).toBe(false);
    expect([map.get('a'), map.get('c'), map.get('d')]).toEqual([1, 3, 4]);
    clock.advance(FAILURE_LISTENER_TTL_MS);
    expect(map.get('a')).toBeUndefined();
    expect(map.size).toBeLessThanOrEqual(3);
  });

  it('a per-person window counts at most `limit` events a minute, over a bounded number of people', () => {
    const clock = new TestClock();
    const window = new RateWindow({ limit: 2, windowMs: 60_000, maxKeys: 100, clock });
    expect([window.take('U1'), window.take('U1'), window.take('U1')]).toEqual([true, true, false]);
    expect(window.take('U2')).toBe(true);
    clock.advance(60_000);
    expect(window.take('U1')).toBe(true);
    for (let i = 0; i < 1000; i++) window.take(`U${i}`);
  });
});

/** Lets promise callbacks and immediates run until `done` (at most `max` turns of the event loop). */
async function turns(done: () => boolean, max = 50): Promise<void> {
  for (let i = 0; i < max && !done(); i++) await new Promise((resolve) => setImmediate(resolve));
}
