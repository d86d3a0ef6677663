import { type Clock, systemClock } from '../../src/core/clock.js';
import type { SlackCaller } from '../../src/slack/publisher.js';

export interface FakeCall {
  method: string;
  args: Record<string, unknown>;
  at: number;
}

type Answer = Record<string, unknown> | Error;

/**
 * A Web API client double, in process, for the publisher's and renderer's own tests: it
 * records calls and answers like Slack (`ts` for posts). A test may queue answers per
 * method (errors included) or hold calls until released. Tests of the whole bot talk HTTP
 * to the Web API stub instead (slack-api-stub.ts).
 */
export class FakeSlack implements SlackCaller {
  readonly calls: FakeCall[] = [];
  private readonly queued = new Map<string, Answer[]>();
  private held: (() => void)[] = [];
  hold = false;
  private ts = 0;

  constructor(private readonly clock: Pick<Clock, 'now'> = systemClock) {}

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
