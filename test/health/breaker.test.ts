import { describe, expect, it } from 'vitest';
import { nowMs } from '../../src/core/clock.js';
import { type CallOutcome, CircuitBreaker, counts } from '../../src/health/breaker.js';
import { TestClock } from '../support/clock.js';

const settings = { failureThreshold: 5, window: 6, windowMs: 600_000, cooldownMs: 30_000 };
const KEY = 'anthropic/claude-haiku-4-5';

function setup() {
  const clock = new TestClock();
  const breaker = new CircuitBreaker(settings, clock);
  let id = 0;
  const call = (outcome: CallOutcome['outcome'], errorKind: string | null = null, at = nowMs(clock)) => {
    id += 1;
    breaker.record(KEY, { id: `a${id}`, at, outcome, errorKind });
  };
  return {
    breaker,
    call,
    tick: (ms: number) => clock.advance(ms),
    now: () => nowMs(clock),
  };
}

describe('the circuit breaker', () => {
  it('stays closed below the threshold and opens at 5 failures of the last 6', () => {
    const { breaker, call } = setup();
    call('success');
    for (let i = 0; i < 4; i++) call('error', 'rate_limit');
    expect(breaker.snapshot(KEY)).toMatchObject({ state: 'closed', failures: 4, calls: 5 });
    expect(breaker.allow(KEY)).toBe(true);
    call('error', 'rate_limit');
    expect(breaker.snapshot(KEY)).toMatchObject({
      state: 'open',
      failures: 5,
      calls: 6,
      mainFailureKind: 'rate_limit',
    });
    expect(breaker.allow(KEY)).toBe(false);
  });

  it('forgets calls beyond the last 6: old failures pushed out by successes never open it', () => {
    const { breaker, call } = setup();
    for (let i = 0; i < 4; i++) call('error', 'server');
    call('success');
    call('success');
    call('error', 'server'); // the first failure slid out of the last 6
    expect(breaker.snapshot(KEY)).toMatchObject({ state: 'closed', calls: 6, failures: 4 });
    call('success');
    expect(breaker.snapshot(KEY)).toMatchObject({ state: 'closed', failures: 3 });
  });

  it('forgets failures older than the window’s age', () => {
    const { breaker, call, tick } = setup();
    for (let i = 0; i < 4; i++) call('error', 'timeout');
    tick(settings.windowMs + 1);
    call('error', 'timeout');
    expect(breaker.snapshot(KEY)).toMatchObject({ state: 'closed', failures: 1 });
  });

  it('goes half-open after the cooldown and lets exactly one probe through', () => {
    const { breaker, call, tick } = setup();
    for (let i = 0; i < 5; i++) call('error', 'overloaded');
    tick(29_999);
    expect(breaker.allow(KEY)).toBe(false);
    tick(1);
    expect(breaker.snapshot(KEY).state).toBe('half_open');
    expect(breaker.allow(KEY)).toBe(true); // the probe
    expect(breaker.allow(KEY)).toBe(false); // everyone else waits for its verdict
  });

  it('closes when the probe succeeds', () => {
    const { breaker, call, tick } = setup();
    for (let i = 0; i < 5; i++) call('error', 'overloaded');
    tick(30_000);
    expect(breaker.allow(KEY)).toBe(true);
    call('success');
    expect(breaker.snapshot(KEY)).toMatchObject({ state: 'closed', failures: 0 });
    expect(breaker.allow(KEY)).toBe(true);
    expect(breaker.allow(KEY)).toBe(true);
  });

  it('opens again for a full cooldown when the probe fails', () => {
    const { breaker, call, tick } = setup();
    for (let i = 0; i < 5; i++) call('error', 'overloaded');
    tick(30_000);
    expect(breaker.allow(KEY)).toBe(true);
    call('error', 'overloaded');
    expect(breaker.snapshot(KEY).state).toBe('open');
    tick(29_999);
    expect(breaker.allow(KEY)).toBe(false);
    tick(1);
    expect(breaker.allow(KEY)).toBe(true);
  });

  it('hands out a new probe when the last one never reported (its process died)', () => {
    const { breaker, call, tick } = setup();
    for (let i = 0; i < 5; i++) call('error', 'network');
    tick(30_000);
    expect(breaker.allow(KEY)).toBe(true);
    tick(29_999);
    expect(breaker.allow(KEY)).toBe(false);
    tick(1);
    expect(breaker.allow(KEY)).toBe(true);
  });

  it('counts billing and key failures (nothing works until someone acts), not prompt-caused ones', () => {
    expect(
      ['rate_limit', 'overloaded', 'server', 'timeout', 'network', 'quota', 'auth', 'unknown'].map((k) =>
        counts('error', k),
      ),
    ).toEqual(Array(8).fill('failure'));
    expect(['invalid_request', 'context_length', 'content_filter'].map((k) => counts('error', k))).toEqual([
      null,
      null,
      null,
    ]);
    const { breaker, call } = setup();
    for (let i = 0; i < 10; i++) call('error', 'context_length');
    expect(breaker.snapshot(KEY)).toMatchObject({ state: 'closed', calls: 0 });
    for (let i = 0; i < 5; i++) call('error', 'quota');
    expect(breaker.snapshot(KEY)).toMatchObject({ state: 'open', mainFailureKind: 'quota' });
  });

  it('ignores an outcome it has already seen (events and the table both report it)', () => {
    const { breaker, now } = setup();
    for (let i = 0; i < 10; i++)
      breaker.record(KEY, { id: 'same', at: now(), outcome: 'error', errorKind: 'server' });
    expect(breaker.snapshot(KEY)).toMatchObject({ state: 'closed', failures: 1 });
  });

  it('ignores failures from before the circuit last closed, when they arrive late', () => {
    const { breaker, call, tick, now } = setup();
    const old = now();
    for (let i = 0; i < 5; i++) call('error', 'server');
    tick(30_000);
    breaker.allow(KEY);
    call('success');
    for (let i = 0; i < 5; i++)
      breaker.record(KEY, { id: `late${i}`, at: old, outcome: 'error', errorKind: 'server' });
    expect(breaker.snapshot(KEY).state).toBe('closed');
  });

  it('a success seen while open (a call made when every circuit was open) closes it', () => {
    const { breaker, call, tick } = setup();
    for (let i = 0; i < 5; i++) call('error', 'rate_limit');
    tick(1000);
    call('success');
    expect(breaker.snapshot(KEY).state).toBe('closed');
  });

  it('times the cooldown from the failure that tripped it, so a replica seeded later agrees', () => {
    const { breaker, now } = setup();
    const at = now() - 20_000; // the failures happened 20 s ago, on another replica
    for (let i = 0; i < 5; i++)
      breaker.record(KEY, { id: `r${i}`, at, outcome: 'error', errorKind: 'server' });
    expect(breaker.snapshot(KEY)).toMatchObject({ state: 'open' });
    expect(breaker.snapshot(KEY).probeAt?.getTime()).toBe(at + 30_000);
  });

  it('keeps circuits per provider/model', () => {
    const { breaker, call } = setup();
    for (let i = 0; i < 5; i++) call('error', 'server');
    expect(breaker.allow(KEY)).toBe(false);
    expect(breaker.allow('anthropic/claude-sonnet-4-5')).toBe(true);
    expect(breaker.allow('openai/gpt-4o-mini')).toBe(true);
  });
});
