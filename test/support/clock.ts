/**
 * Time in tests. Every test process runs on a fixed calendar (test/support/test-date.mjs):
 * `testNow()` is the current instant on it, and `TEST_NOW` the instant the suite was set to.
 * Tests that drive time by hand use a `TestClock`, which starts there, never at today's date.
 *
 * Not for bench/: importing this module moves the process onto the suite's calendar.
 */

import { type Clock, systemClock } from '../../src/core/clock.js';
// Loads the shifted Date before anything below reads it (vitest has already loaded it too).
import { DEFAULT_TEST_NOW, testDateOffset } from './test-date.mjs';

/** The instant this test process's clock was set to (SWITCHBOARD_TEST_NOW, else a fixed Wednesday). */
export const TEST_NOW = new Date(process.env.SWITCHBOARD_TEST_NOW ?? DEFAULT_TEST_NOW);

/** Now, on the suite's calendar (it moves at real speed from TEST_NOW). */
export function testNow(): Date {
  return new Date();
}

/**
 * The environment a child process needs to share this process's calendar: the same shift
 * from the machine's clock, so both read the same time (the child loads test-date.mjs).
 */
export function testChildEnv(): Record<string, string> {
  return { SWITCHBOARD_TEST_OFFSET_MS: String(testDateOffset()) };
}

/** The `--import` that puts a child process on the suite's calendar. */
export const TEST_DATE_IMPORT = new URL('./test-date.mjs', import.meta.url).pathname;

type Instant = string | number | Date;

export interface TestClockOptions {
  /** Where time starts: TEST_NOW unless given (with `realTime`: the current instant). */
  start?: Instant;
  /**
   * What a `sleep` does (each one is recorded in `sleeps` first):
   * - `'wait'` (the default): it ends when `tick` moves time past it, like a timer;
   * - `'advance'`: time jumps by its length at once, so a retry loop runs through its
   *   backoff in no real time and the clock shows the time it "took";
   * - `'skip'`: it returns at once and time stays where it is.
   */
  sleeps?: 'wait' | 'advance' | 'skip';
  /**
   * The clock runs by itself on the suite's calendar, at real speed (shifted by what `set`
   * and `advance` add), and its timers and waiting sleeps are real ones. For tests whose
   * timestamps meet the database's, where only the waits are to be cut short.
   */
  realTime?: boolean;
}

interface Timer {
  at: number;
  fn: () => void;
  seq: number;
}

/**
 * The one clock tests drive: the product's `Clock` (src/core/clock.ts), moving only when
 * told. `set` and `advance` move it at once and fire nothing; `tick` moves it step by step,
 * firing the timers (and ending the sleeps) that fall due, in time order, and lets promise
 * chains settle after each, so code woken by a timer has run before the next one fires.
 */
export class TestClock implements Clock {
  /** Every sleep asked for, in ms, in order. */
  readonly sleeps: number[] = [];
  private readonly sleepMode: NonNullable<TestClockOptions['sleeps']>;
  private readonly realTime: boolean;
  /** Stopped: the time (ms). Real time: the shift from the suite's calendar (ms). */
  private t: number;
  private timers: Timer[] = [];
  private seq = 0;

  constructor(o: TestClockOptions = {}) {
    this.sleepMode = o.sleeps ?? 'wait';
    this.realTime = o.realTime ?? false;
    const start = o.start === undefined ? undefined : new Date(o.start).getTime();
    if (this.realTime) this.t = start === undefined ? 0 : start - Date.now();
    else this.t = start ?? TEST_NOW.getTime();
  }

  now(): Date {
    return new Date(this.ms());
  }

  /** Puts the clock at `at` (forward or back); fires nothing. */
  set(at: Instant): void {
    this.t += new Date(at).getTime() - this.ms();
  }

  /** Moves time forward by `ms` at once; fires nothing (`tick` does). */
  advance(ms: number): void {
    this.t += ms;
  }

  /**
   * Moves time forward by `ms`, firing due timers in time order and letting promise chains
   * run after each. A real-time clock's timers are real: there it only moves the calendar.
   */
  async tick(ms: number): Promise<void> {
    if (this.realTime) {
      this.advance(ms);
      await settle();
      return;
    }
    const target = this.t + ms;
    await settle();
    for (;;) {
      const due = this.timers.filter((x) => x.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
      await settle();
    }
    this.t = target;
    await settle();
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.sleepMode === 'advance') this.advance(ms);
    if (this.sleepMode !== 'wait') return Promise.resolve();
    if (this.realTime) return systemClock.sleep(ms, signal);
    return new Promise<void>((resolve, reject) => {
      const timer = this.setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      const onAbort = () => {
        timer.cancel();
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  setTimeout(fn: () => void, ms: number): { cancel(): void } {
    if (this.realTime) return systemClock.setTimeout(fn, ms);
    const timer: Timer = { at: this.t + Math.max(0, ms), fn, seq: this.seq++ };
    this.timers.push(timer);
    return {
      cancel: () => {
        this.timers = this.timers.filter((x) => x !== timer);
      },
    };
  }

  private ms(): number {
    return this.realTime ? Date.now() + this.t : this.t;
  }
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}
