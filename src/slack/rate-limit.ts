import { type Clock, nowMs, systemClock } from '../core/clock.js';

/**
 * Token buckets for Slack's per-method rate limits. Slack documents its limits per method
 * and tier (docs.slack.dev/apis/web-api/rate-limits), "per API method per workspace per
 * app": chat.postMessage allows about one message per second per channel with short bursts;
 * chat.update is Tier 3 (50+ a minute); chat.postEphemeral and chat.getPermalink are Tier 4
 * (100+ a minute). A 429 carries Retry-After in seconds: the bucket is then paused for that
 * long.
 *
 * The buckets stay a little under those figures. A bucket of `burst` tokens refilled at
 * `perSecond` can send burst + 60 × perSecond calls in one minute, so that sum is kept
 * within the documented per-minute count; and a call that waited for its token may reach
 * Slack a few milliseconds after the one behind it (event-loop and network jitter), which
 * Slack counts as too early when we run at exactly its rate.
 */

/** What the buckets need of a clock. */
export type BucketClock = Pick<Clock, 'now' | 'setTimeout'>;

export interface BucketRate {
  /** Tokens added per second. */
  perSecond: number;
  /** Bucket size: how many calls may go out back to back after a quiet spell. */
  burst: number;
}

interface Waiter {
  go: () => void;
  rank: (() => number) | undefined;
}

/** The waiter to serve next: lowest rank, earliest among equals (no rank counts as 0). */
function firstInLine(waiters: readonly Waiter[]): number {
  let best = 0;
  let bestRank = Number.POSITIVE_INFINITY;
  for (let i = 0; i < waiters.length; i++) {
    const rank = waiters[i]!.rank?.() ?? 0;
    if (rank < bestRank) {
      best = i;
      bestRank = rank;
    }
  }
  return best;
}

/** What the publisher needs of a bucket, local or shared. */
export interface Bucket {
  take(rank?: () => number): Promise<void>;
  pause(ms: number): void;
  readonly waiting: number;
  readonly isPaused: boolean;
  dispose(): void;
}

/**
 * A FIFO token bucket: `take()` resolves when a token is available, in call order, and
 * never blocks the caller's thread — it is a promise.
 */
export class TokenBucket implements Bucket {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  private readonly waiters: Waiter[] = [];
  private timer: { cancel(): void } | undefined;

  constructor(
    private readonly rate: BucketRate,
    private readonly clock: BucketClock = systemClock,
  ) {
    this.tokens = rate.burst;
    this.last = nowMs(clock);
  }

  /**
   * Waits for a token: the waiter with the lowest `rank()` when a token frees up goes first
   * (ranks are read then, so a message whose state changed while waiting moves with it),
   * first come first served among equals.
   */
  take(rank?: () => number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push({ go: resolve, rank });
      this.pump();
    });
  }

  /** Stops handing out tokens for `ms` (a 429's Retry-After). */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, nowMs(this.clock) + ms);
    // Retry-After says when one call may go again: allow exactly one then, the rest at the normal rate.
    this.tokens = 1;
    this.reschedule();
  }

  get waiting(): number {
    return this.waiters.length;
  }

  get isPaused(): boolean {
    return nowMs(this.clock) < this.pausedUntil;
  }

  /** Releases timers (shutdown); pending takers stay pending. */
  dispose(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private refill(now: number) {
    const elapsed = Math.max(0, now - Math.max(this.last, this.pausedUntil));
    this.tokens = Math.min(this.rate.burst, this.tokens + (elapsed / 1000) * this.rate.perSecond);
    this.last = now;
  }

  private pump() {
    const now = nowMs(this.clock);
    if (now < this.pausedUntil) return this.reschedule();
    this.refill(now);
    while (this.waiters.length > 0 && this.tokens >= 1) {
      this.tokens -= 1;
      this.waiters.splice(firstInLine(this.waiters), 1)[0]!.go();
    }
    if (this.waiters.length > 0) this.reschedule();
  }

  private reschedule() {
    this.timer?.cancel();
    this.timer = undefined;
    if (this.waiters.length === 0) return;
    const now = nowMs(this.clock);
    const untilUnpaused = Math.max(0, this.pausedUntil - now);
    const untilToken = this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) / this.rate.perSecond) * 1000);
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(untilUnpaused, untilToken, 1),
    );
  }
}

/** Slack's documented limits, as buckets. `perChannel` methods get one bucket per channel. */
export interface RateLimits {
  [method: string]: BucketRate & { perChannel?: boolean };
}

export const SLACK_RATE_LIMITS: RateLimits = {
  // "1 message per second per channel, short bursts allowed" (chat.postMessage docs), with
  // 10% headroom for jitter, and a burst one under Slack's: calls granted together may reach
  // Slack late and the next one early (a busy event loop, several processes), and the token
  // Slack still holds then absorbs it.
  'chat.postMessage': { perSecond: 0.9, burst: 2, perChannel: true },
  // Tier 3, 50+ per minute: at most 4 + 44 = 48 in any minute.
  'chat.update': { perSecond: 44 / 60, burst: 4 },
  // Tier 4, 100+ per minute: at most 8 + 88 = 96 in any minute.
  'chat.postEphemeral': { perSecond: 88 / 60, burst: 8 },
  'chat.getPermalink': { perSecond: 88 / 60, burst: 8 },
  // Reading a thread for "Run a workflow…" (src/slack/thread-reader.ts). conversations.* are
  // Tier 3 for apps a workspace builds for itself; Slack cut non-Marketplace *distributed*
  // apps to 1 a minute on conversations.replies in 2025, which this bucket cannot help.
  'conversations.info': { perSecond: 44 / 60, burst: 4 },
  'conversations.replies': { perSecond: 44 / 60, burst: 4 },
  // Tier 4; names are cached, so this is one call per author.
  'users.info': { perSecond: 88 / 60, burst: 8 },
  // Workflow Builder steps finishing (src/slack/function-steps.ts): Tier 3.
  'functions.completeSuccess': { perSecond: 44 / 60, burst: 4 },
  'functions.completeError': { perSecond: 44 / 60, burst: 4 },
  // Live output (src/slack/live-output.ts). chat.appendStream is Tier 4; Slack's reference
  // pages give no tier for chat.startStream and chat.stopStream, so they are budgeted as
  // Tier 3 like chat.update; chat.delete (the live message, once the card holds the output)
  // is Tier 3.
  'chat.startStream': { perSecond: 44 / 60, burst: 4 },
  'chat.appendStream': { perSecond: 88 / 60, burst: 8 },
  'chat.stopStream': { perSecond: 44 / 60, burst: 4 },
  'chat.delete': { perSecond: 44 / 60, burst: 4 },
};

const FALLBACK_RATE: BucketRate = { perSecond: 20 / 60, burst: 3 };

/**
 * Slack's budget shared by several processes (src/db/slack-coordination.ts on PostgreSQL):
 * `takeToken` takes one token if 1 + `reserve` are there and answers 0, else the ms to wait.
 */
export interface SharedBudget {
  takeToken(key: string, rate: BucketRate, reserve: number, nowMs: number): Promise<number>;
  pauseBucket(key: string, untilMs: number): Promise<void>;
}

/**
 * A bucket whose tokens live in a shared row (every process's calls count against it),
 * with this process's waiters served by rank as in TokenBucket. One take is in flight per
 * bucket and process; a refusal says how long to wait before asking again. A waiter of rank
 * r leaves `reserve(r)` tokens in the row for more urgent ones, in any process.
 */
export class SharedTokenBucket implements Bucket {
  private readonly waiters: Waiter[] = [];
  private asking = false;
  private disposed = false;
  private pausedUntil = 0;
  private timer: { cancel(): void } | undefined;

  constructor(
    private readonly key: string,
    private readonly rate: BucketRate,
    private readonly shared: SharedBudget,
    private readonly reserve: (rank: number) => number,
    private readonly clock: BucketClock = systemClock,
    private readonly onError: (error: unknown) => void = () => {},
  ) {}

  take(rank?: () => number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiters.push({ go: resolve, rank });
      this.pump();
    });
  }

  pause(ms: number): void {
    const until = nowMs(this.clock) + ms;
    this.pausedUntil = Math.max(this.pausedUntil, until);
    this.shared.pauseBucket(this.key, until).catch(this.onError);
    this.later(ms);
  }

  get waiting(): number {
    return this.waiters.length;
  }

  get isPaused(): boolean {
    return nowMs(this.clock) < this.pausedUntil;
  }

  dispose(): void {
    this.disposed = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private pump(): void {
    if (this.asking || this.timer || this.disposed || this.waiters.length === 0) return;
    const now = nowMs(this.clock);
    if (now < this.pausedUntil) {
      this.later(this.pausedUntil - now);
      return;
    }
    const next = firstInLine(this.waiters);
    const rank = this.waiters[next]!.rank?.() ?? 0;
    this.asking = true;
    this.shared.takeToken(this.key, this.rate, this.reserve(rank), now).then(
      (waitMs) => {
        this.asking = false;
        if (waitMs > 0) {
          this.later(waitMs);
          return;
        }
        // The token goes to whoever is first in line now (a rank may have changed meanwhile).
        if (this.waiters.length > 0) this.waiters.splice(firstInLine(this.waiters), 1)[0]!.go();
        this.pump();
      },
      (error: unknown) => {
        this.asking = false;
        this.onError(error);
        this.later(1000);
      },
    );
  }

  private later(ms: number): void {
    if (this.disposed || this.waiters.length === 0) return;
    this.timer?.cancel();
    this.timer = this.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.pump();
      },
      Math.max(1, Math.ceil(ms)),
    );
  }
}

/** One bucket per method (and per channel where Slack counts per channel). */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly limits: RateLimits = SLACK_RATE_LIMITS,
    private readonly clock: BucketClock = systemClock,
    /** Buckets shared with the other processes (several replicas); local buckets without it. */
    private readonly shared?: {
      budget: SharedBudget;
      reserve: (rank: number) => number;
      onError?: (error: unknown) => void;
    },
  ) {}

  bucket(method: string, channel?: string): Bucket {
    const limit = this.limits[method];
    const key = limit?.perChannel && channel ? `${method}:${channel}` : method;
    let bucket = this.buckets.get(key);
    if (!bucket) {
      const rate = limit ? { perSecond: limit.perSecond, burst: limit.burst } : FALLBACK_RATE;
      bucket = this.shared
        ? new SharedTokenBucket(
            key,
            rate,
            this.shared.budget,
            this.shared.reserve,
            this.clock,
            this.shared.onError,
          )
        : new TokenBucket(rate, this.clock);
      this.buckets.set(key, bucket);
    }
    return bucket;
  }

  dispose(): void {
    for (const bucket of this.buckets.values()) bucket.dispose();
  }
}
