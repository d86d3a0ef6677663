import type { SlackCaller } from '../../src/slack/publisher.js';
import type { BucketClock } from '../../src/slack/rate-limit.js';

/** A clock that only moves when told to; timers fire in time order as it moves. */
export class FakeClock implements BucketClock {
  private t = 0;
  private timers: { at: number; fn: () => void; seq: number }[] = [];
  private seq = 0;

  now(): Date {
    return new Date(this.t);
  }

  setTimeout(fn: () => void, ms: number) {
    const timer = { at: this.t + Math.max(0, ms), fn, seq: this.seq++ };
    this.timers.push(timer);
    return {
      cancel: () => {
        this.timers = this.timers.filter((x) => x !== timer);
      },
    };
  }

  /** Moves time forward by `ms`, firing due timers and letting promise chains run after each. */
  async advance(ms: number): Promise<void> {
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
}

/** Lets pending promise callbacks and I/O callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise((resolve) => setImmediate(resolve));
}

export interface FakeCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
}

type Answer = Record<string, unknown> | Error;

/**
 * A Web API client double: records calls and answers like Slack (`ts` for posts). A test
 * may queue answers per method (errors included) or hold calls until released.
 */
export class FakeSlack implements SlackCaller {
  readonly calls: FakeCall[] = [];
  private readonly queued = new Map<string, Answer[]>();
  private held: (() => void)[] = [];
  hold = false;
  private ts = 0;

  constructor(private readonly clock: { now(): Date } = { now: () => new Date() }) {}

  /** The next calls of `method` get these answers, in order. */
  answer(method: string, ...answers: Answer[]): void {
    this.queued.set(method, [...(this.queued.get(method) ?? []), ...answers]);
  }

  /** Lets every held call answer. */
  release(): void {
    const held = this.held;
    this.held = [];
    for (const go of held) go();
  }

  callsOf(method: string): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  async apiCall(method: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    this.calls.push({ method, args, at: this.clock.now().getTime() });
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    const next = this.queued.get(method)?.shift();
    if (next instanceof Error) throw next;
    if (next) return next;
    if (method === 'chat.postMessage') {
      this.ts += 1;
      return { ok: true, channel: args.channel, ts: `1700000000.${String(this.ts).padStart(6, '0')}` };
    }
    return { ok: true, channel: args.channel, ts: args.ts };
  }
}

/** Errors shaped as @slack/web-api throws them (rejectRateLimitedCalls: true). */
export const rateLimited = (retryAfterSeconds: number) =>
  Object.assign(new Error('A rate-limit has been reached'), {
    code: 'slack_webapi_rate_limited_error',
    retryAfter: retryAfterSeconds,
  });

export const platformError = (error: string) =>
  Object.assign(new Error(`An API error occurred: ${error}`), {
    code: 'slack_webapi_platform_error',
    data: { ok: false, error },
  });

export const networkError = () =>
  Object.assign(new Error('A request error occurred: ECONNRESET'), { code: 'slack_webapi_request_error' });
