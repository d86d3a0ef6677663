/**
 * The rate limits the Web API stub enforces when asked to (the bench does; tests' bursts
 * would only wait), modelled on Slack's documentation
 * (docs.slack.dev/apis/web-api/rate-limits): limits apply "per API method per
 * workspace/team per app" — the stub serves one app in one workspace, so one key per
 * method — except chat.postMessage, which "generally allows posting one message per second
 * per channel" with short bursts. A call over the limit gets HTTP 429 and Retry-After in
 * whole seconds, and does not count against the limit.
 */

export interface Limit {
  /** Answers undefined when the call may go now (and counts it), else the ms until one may. */
  take(key: string, now: number): number | undefined;
}

/** At most `limit` calls in any `windowMs` (Slack's "N+ per minute" tiers). */
export class SlidingWindow implements Limit {
  private readonly log = new Map<string, number[]>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  take(key: string, now: number): number | undefined {
    const calls = (this.log.get(key) ?? []).filter((at) => at > now - this.windowMs);
    this.log.set(key, calls);
    if (calls.length >= this.limit) return calls[0]! + this.windowMs - now;
    calls.push(now);
    return undefined;
  }
}

/** `perSecond` sustained with bursts of up to `burst` (chat.postMessage per channel). */
export class Bucket implements Limit {
  private readonly state = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly perSecond: number,
    readonly burst: number,
  ) {}

  take(key: string, now: number): number | undefined {
    const s = this.state.get(key) ?? { tokens: this.burst, at: now };
    s.tokens = Math.min(this.burst, s.tokens + ((now - s.at) / 1000) * this.perSecond);
    s.at = now;
    this.state.set(key, s);
    if (s.tokens < 1) return ((1 - s.tokens) / this.perSecond) * 1000;
    s.tokens -= 1;
    return undefined;
  }
}

export interface MethodLimit {
  limit: Limit;
  /** Counted per channel (the `channel` argument) rather than per workspace. */
  perChannel?: boolean;
}

const tier4 = () => ({ limit: new SlidingWindow(100, 60_000) });

/** Fresh limiters (they hold state) for one stub. */
export function slackLimits(): Record<string, MethodLimit> {
  return {
    // "1 per second, short bursts >1 allowed": a bucket of 3 per channel refilled at 1/s.
    'chat.postMessage': { limit: new Bucket(1, 3), perChannel: true },
    // Tier 3, "50+ per minute, sporadic bursts welcome": any 50 calls in a sliding minute.
    'chat.update': { limit: new SlidingWindow(50, 60_000) },
    // Tier 4, "100+ per minute".
    'chat.postEphemeral': tier4(),
    'chat.getPermalink': tier4(),
    'views.open': tier4(),
    'views.publish': tier4(),
    // Live output: appendStream is Tier 4; start/stop are taken as Tier 3 (the reference gives
    // no tier), chat.delete is Tier 3.
    'chat.startStream': { limit: new SlidingWindow(50, 60_000) },
    'chat.appendStream': tier4(),
    'chat.stopStream': { limit: new SlidingWindow(50, 60_000) },
    'chat.delete': { limit: new SlidingWindow(50, 60_000) },
  };
}
