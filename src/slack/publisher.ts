import { createHash } from 'node:crypto';
import { nowMs, systemClock } from '../core/clock.js';
import type { Logger } from '../logging.js';
import { defaultPriority, type MessagePriority, rankOf, reserveFor } from './priority.js';
import {
  type BucketClock,
  RateLimiter,
  type RateLimits,
  type SharedBudget,
  SLACK_RATE_LIMITS,
} from './rate-limit.js';
import type { MessagePayload } from './views/model.js';

/**
 * Gets messages to Slack without ever holding up the caller. Callers state what a message
 * should look like now (`put`); the publisher posts it once and then edits it, sending only
 * the newest state: while an update to a message is in flight or waiting for a token, newer
 * states replace each other and only the last one goes out. Calls wait on per-method token
 * buckets, a 429 pauses its bucket for Retry-After, and a reply in a thread waits until
 * its parent has been posted.
 *
 * Slack allows about 50 chat.update calls a minute per workspace, and every message posted
 * in a state that will change (a running run, a pending step) costs at least one of them
 * later. So the publisher keeps count of those messages and, while there are more than
 * chat.update can bring up to date within EDIT_HORIZON_MS, holds back the first post of
 * another changing message: it goes out when its state settles (then no edit is needed at
 * all) or when the count falls, first come first served. Updates to settled states (a
 * completed step) go before updates to changing ones. Under a burst of runs, cards thus
 * appear late but final, instead of early and then stale for minutes.
 *
 * Waiting calls are served by priority (src/slack/priority.ts): a paused step and its alert,
 * then completions, then progress. With several processes on one PostgreSQL database the
 * buckets are rows shared by all of them (`shared`), each process holds back only its share
 * of the messages that may owe an edit, and the runs with messages not sent yet are recorded
 * (`journal`) so another process can redraw them if this one dies (src/slack/replicas.ts).
 */

/** How a one-off call (`Publisher.call`) waits for its token and what it sends. */
export interface CallOptions {
  /** Its class when the budget is short (default `attention`: someone is waiting on it). */
  priority?: MessagePriority | undefined;
  /**
   * Builds the body when the call's token is granted, instead of `args` (which then only
   * names the channel): text that arrived while the call waited goes with it (live output).
   * Returning undefined cancels the call (it resolves with `{}`).
   */
  build?: (() => Record<string, unknown> | undefined) | undefined;
  /** While waiting for a token: true lets the call go before every other waiting (a call to cancel). */
  urgent?: (() => boolean) | undefined;
}

/** The slice of @slack/web-api's WebClient the publisher uses (a fake in unit tests). */
export interface SlackCaller {
  apiCall(method: string, options?: Record<string, unknown>): Promise<Record<string, unknown>>;
}

export interface MessageSpec {
  /** Stable identity of the message, e.g. `run:<id>`, `step:<id>`, `alert:<stepId>`. */
  key: string;
  channel: string;
  payload: MessagePayload;
  /** The message's ts when it was posted before (read from the database). */
  ts?: string | undefined;
  /** Key of the message whose thread this one is posted in; the post waits for it. */
  threadOf?: string | undefined;
  /** The thread's ts when already known (then `threadOf` need not be in memory). */
  threadTs?: string | undefined;
  /** Send even if Slack already shows exactly this (a stale card being refreshed). */
  force?: boolean | undefined;
  /**
   * This state will change without anyone acting (a running run, a pending step), so it
   * will cost a chat.update later. Default false: the message stays as it is until someone acts.
   */
  changing?: boolean | undefined;
  /**
   * How urgent this state is (default: `completion` for a settled state, `progress` for a
   * changing one). Read again whenever a token frees up, so it follows the newest state.
   */
  priority?: MessagePriority | undefined;
  /**
   * Only replace a state of this message still waiting to be sent here; never start a send
   * (another process changed the run and sends the new state itself: this one only makes
   * sure it will not send an older one after it).
   */
  refreshOnly?: boolean | undefined;
  /** The run the message belongs to: recorded while it has unsent states (`journal`). */
  group?: string | undefined;
  /** Called once, after the first post; persist `ts` here. */
  onPosted?: ((posted: { ts: string; channel: string }) => Promise<void> | void) | undefined;
  /** Called when Slack refused the message for good (not_in_channel, channel_not_found…). */
  onFailed?: ((error: SlackCallError) => void) | undefined;
}

export interface PublisherStats {
  /** HTTP calls made, per Web API method (retries included). */
  calls: Record<string, number>;
  /** 429 answers received. */
  rateLimited: number;
  /** Calls repeated after a transient failure (network, 5xx, internal_error). */
  retries: number;
  /** Calls given up on. */
  failures: number;
  /** States replaced by a newer one before they were sent. */
  coalesced: number;
  /** Updates not sent because Slack already showed exactly that. */
  unchanged: number;
}

export interface PublisherOptions {
  client: SlackCaller;
  logger: Logger;
  limits?: RateLimits;
  clock?: BucketClock;
  /** Attempts per call for transient failures (default 4). */
  maxAttempts?: number;
  /** First backoff after a transient failure, doubled each time (default 500 ms). */
  retryBaseMs?: number;
  /** Idle messages remembered for coalescing and de-duplication (default 5000). */
  maxSlots?: number;
  /** How far behind chat.update may fall before changing messages wait (default EDIT_HORIZON_MS). */
  editHorizonMs?: number;
  /** Told about every Web API call and every 429 (metrics). */
  observer?: { onCall?(method: string): void; onRateLimited?(method: string): void } | undefined;
  /** Buckets shared with other processes (one PostgreSQL database, several replicas). */
  shared?: SharedBudget | undefined;
  /** Told which groups (runs) have states not sent yet, and which were all sent. */
  journal?: PendingJournal | undefined;
}

/** Where a publisher records the runs whose messages it still has to send. */
export interface PendingJournal {
  record(pending: string[], sent: string[]): Promise<void>;
}

/** How often groups whose messages were all sent are reported to the journal. */
export const JOURNAL_SWEEP_MS = 1_000;

/** A Web API failure, classified. */
export class SlackCallError extends Error {
  override name = 'SlackCallError';
  constructor(
    readonly method: string,
    /** Slack's error code (`channel_not_found`) or the transport's. */
    readonly slackError: string,
    readonly transient: boolean,
    readonly retryAfterMs?: number,
  ) {
    super(`${method} failed: ${slackError}`);
  }
}

const TRANSIENT_PLATFORM_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
]);

/** Classifies an error thrown by WebClient (rejectRateLimitedCalls: true) or a fake. */
export function classify(method: string, error: unknown): SlackCallError {
  if (error instanceof SlackCallError) return error;
  const e = error as {
    code?: string;
    retryAfter?: number;
    data?: { error?: string };
    statusCode?: number;
    message?: string;
  };
  if (e?.code === 'slack_webapi_rate_limited_error') {
    return new SlackCallError(method, 'ratelimited', true, Math.max(0, (e.retryAfter ?? 1) * 1000));
  }
  if (e?.code === 'slack_webapi_platform_error') {
    const code = e.data?.error ?? 'unknown_error';
    return new SlackCallError(method, code, TRANSIENT_PLATFORM_ERRORS.has(code));
  }
  if (e?.code === 'slack_webapi_http_error') {
    const status = e.statusCode ?? 0;
    return new SlackCallError(method, `http_${status}`, status >= 500 || status === 408);
  }
  // Network failures (slack_webapi_request_error) and anything unexpected: worth another try.
  return new SlackCallError(method, e?.code ?? e?.message ?? 'request_failed', true);
}

/**
 * Changing messages are held back while chat.update would need longer than this to catch up:
 * 4 + 15 × 44/60 = 15 messages may owe an edit at once (per workspace: with several
 * processes each holds its share). Every one of them is an edit that a completion may wait
 * behind, so this bounds how far a card lags Slack's own posting floor under a burst
 * (BENCHMARKS.md, "Slack at scale"); at 30 s the slowest cards came 1.6× the floor late.
 */
export const EDIT_HORIZON_MS = 15_000;
/** …but never longer than this: a run that stays busy for minutes still shows up. */
export const MAX_HOLD_MS = 120_000;

interface Slot {
  key: string;
  channel: string;
  ts: string | undefined;
  threadOf: string | undefined;
  threadTs: string | undefined;
  /** The newest state not yet sent, whether it will change (MessageSpec.changing), how urgent it is. */
  desired: MessagePayload | undefined;
  desiredChanging: boolean;
  rank: number;
  group: string | undefined;
  force: boolean;
  /** Digest of what Slack shows now (`shownAs`): a card's JSON is kilobytes, held per message. */
  sent: string | undefined;
  busy: boolean;
  failed: boolean;
  onPosted: MessageSpec['onPosted'];
  onFailed: MessageSpec['onFailed'];
  /** Resolved with the ts once posted, or undefined if posting failed for good. */
  posted: Promise<string | undefined>;
  resolvePosted: (ts: string | undefined) => void;
  touched: number;
}

export class Publisher {
  private readonly slots = new Map<string, Slot>();
  /** Callers of whenPosted waiting for a message nobody has asked to post yet. */
  private readonly slotWaiters = new Map<string, Set<() => void>>();
  private readonly limiter: RateLimiter;
  private readonly clock: BucketClock;
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly drainWaiters = new Set<() => void>();
  private readonly counters: PublisherStats = {
    calls: {},
    rateLimited: 0,
    retries: 0,
    failures: 0,
    coalesced: 0,
    unchanged: 0,
  };
  private closed = false;
  /** Messages Slack shows (or is about to) in a changing state: each owes a chat.update. */
  private readonly owing = new Set<Slot>();
  /** First posts of changing messages waiting for `owing` to shrink, in arrival order. */
  private readonly admissions: { slot: Slot; go: (admitted: boolean) => void }[] = [];
  /** How many messages may owe an update at once (this process's share). */
  private editBudget: number;
  private readonly fullEditBudget: number;
  /** Groups recorded as pending in the journal, with their slots; groups to record. */
  private readonly groups = new Map<string, Set<Slot>>();
  private readonly journaled = new Set<string>();
  private readonly toJournal = new Set<string>();
  private journalTimer: { cancel(): void } | undefined;
  private journalWriting: Promise<void> | undefined;

  constructor(private readonly o: PublisherOptions) {
    this.clock = o.clock ?? systemClock;
    const limits = o.limits ?? SLACK_RATE_LIMITS;
    this.limiter = new RateLimiter(
      limits,
      this.clock,
      o.shared && {
        budget: o.shared,
        reserve: reserveFor,
        onError: (error) =>
          o.logger.warn({ err: (error as Error).message }, 'the shared Slack budget could not be read'),
      },
    );
    const update = limits['chat.update'] ?? { perSecond: 50 / 60, burst: 5 };
    this.fullEditBudget = Math.max(
      1,
      Math.floor(update.burst + (update.perSecond * (o.editHorizonMs ?? EDIT_HORIZON_MS)) / 1000),
    );
    this.editBudget = this.fullEditBudget;
  }

  /**
   * `processes` publish to one workspace with one chat.update budget: this one lets only its
   * share of messages owe an edit at once.
   */
  shareEditsWith(processes: number): void {
    this.editBudget = Math.max(1, Math.floor(this.fullEditBudget / Math.max(1, processes)));
    this.admit();
  }

  /**
   * The message `key` should now look like `spec.payload`. Returns at once; the message is
   * posted (first time) or updated in the background, newest state only.
   */
  put(spec: MessageSpec): void {
    if (this.closed) return;
    if (spec.refreshOnly) {
      const waiting = this.slots.get(spec.key);
      if (!waiting || (!waiting.busy && !waiting.desired)) return;
    }
    let slot = this.slots.get(spec.key);
    if (!slot) {
      slot = this.newSlot(spec);
      this.slots.set(spec.key, slot);
      this.evictIdle();
      const waiters = this.slotWaiters.get(spec.key);
      this.slotWaiters.delete(spec.key);
      for (const wake of waiters ?? []) wake();
    }
    if (spec.ts && !slot.ts) {
      slot.ts = spec.ts;
      slot.resolvePosted(spec.ts);
    }
    slot.failed = false;
    if (!slot.ts && spec.channel) slot.channel = spec.channel;
    slot.threadOf = spec.threadOf ?? slot.threadOf;
    slot.threadTs = spec.threadTs ?? slot.threadTs;
    slot.onPosted = spec.onPosted ?? slot.onPosted;
    slot.onFailed = spec.onFailed ?? slot.onFailed;
    if (slot.desired) this.counters.coalesced++;
    slot.desired = spec.payload;
    slot.desiredChanging = Boolean(spec.changing);
    slot.rank = rankOf(spec.priority ?? defaultPriority(slot.desiredChanging));
    if (spec.group && this.o.journal) this.join(slot, spec.group);
    slot.force ||= Boolean(spec.force);
    slot.touched = nowMs(this.clock);
    this.drive(slot);
    // A message held back whose state has settled may go now.
    if (!slot.desiredChanging) this.admit();
  }

  /** True when this publisher owns the message (posted it, is posting it, or was told its ts). */
  has(key: string): boolean {
    return this.slots.has(key);
  }

  /**
   * True while a forced send of `key` waits for its turn (its rate limit): another forced put
   * of the same state would only take its place.
   */
  forcedSendWaiting(key: string): boolean {
    const slot = this.slots.get(key);
    return Boolean(slot?.ts && slot.desired && slot.force);
  }

  /** The ts of a message this publisher posted or was told about. */
  tsOf(key: string): string | undefined {
    return this.slots.get(key)?.ts;
  }

  /**
   * Resolves with the message's ts once posted (undefined if it failed or `timeoutMs` passed).
   * A message not asked for yet is waited for too: a step's first text can arrive before the
   * renderer has read its new run and asked for the parent.
   */
  whenPosted(key: string, timeoutMs = 30_000): Promise<string | undefined> {
    const slot = this.slots.get(key);
    if (slot?.ts) return Promise.resolve(slot.ts);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const wake = () => {
        const asked = this.closed ? undefined : this.slots.get(key);
        if (!asked) {
          timer.cancel();
          resolve(undefined);
          return;
        }
        void asked.posted.then((ts) => {
          timer.cancel();
          resolve(ts);
        });
      };
      const timer = this.clock.setTimeout(() => {
        this.slotWaiters.get(key)?.delete(wake);
        if (this.slotWaiters.get(key)?.size === 0) this.slotWaiters.delete(key);
        resolve(undefined);
      }, timeoutMs);
      if (slot) return wake();
      const waiters = this.slotWaiters.get(key) ?? new Set();
      waiters.add(wake);
      this.slotWaiters.set(key, waiters);
    });
  }

  /**
   * A one-off call (chat.getPermalink, chat.postEphemeral, a message nobody will edit)
   * through the same buckets and 429 handling. Rejects with SlackCallError.
   */
  call(
    method: string,
    args: Record<string, unknown>,
    options: CallOptions = {},
  ): Promise<Record<string, unknown>> {
    const channel = typeof args.channel === 'string' ? args.channel : undefined;
    const rank = rankOf(options.priority ?? 'attention');
    const urgent = options.urgent;
    return this.track(
      this.send(
        method,
        options.build ?? args,
        channel,
        urgent ? () => (urgent() ? -1 : rank) : () => rank,
      ).then((result) => result ?? {}),
    );
  }

  /** Waits until nothing is queued or in flight (or `timeoutMs` passed); true if drained. */
  async flush(timeoutMs = 10_000): Promise<boolean> {
    if (this.isIdle()) return true;
    if (timeoutMs <= 0) return false;
    return new Promise<boolean>((resolve) => {
      const done = () => {
        timer.cancel();
        this.drainWaiters.delete(done);
        resolve(true);
      };
      const timer = this.clock.setTimeout(() => {
        this.drainWaiters.delete(done);
        resolve(this.isIdle());
      }, timeoutMs);
      this.drainWaiters.add(done);
    });
  }

  stats(): PublisherStats {
    return { ...this.counters, calls: { ...this.counters.calls } };
  }

  /** Stops sending (after flush, at shutdown) and releases timers. */
  close(): void {
    this.closed = true;
    this.journalTimer?.cancel();
    this.limiter.dispose();
    for (const { go } of this.admissions.splice(0)) go(false);
    for (const slot of this.slots.values()) slot.resolvePosted(slot.ts);
    const waiters = [...this.slotWaiters.values()];
    this.slotWaiters.clear();
    for (const wake of waiters.flatMap((set) => [...set])) wake();
  }

  /** Resolves true when `slot` may be posted now (false if the publisher closed meanwhile). */
  private admission(slot: Slot): Promise<boolean> {
    return new Promise((resolve) => {
      const entry = {
        slot,
        go: (admitted: boolean) => {
          timer.cancel();
          resolve(admitted);
        },
      };
      const timer = this.clock.setTimeout(() => {
        const i = this.admissions.indexOf(entry);
        if (i < 0) return;
        this.admissions.splice(i, 1);
        this.owing.add(slot);
        entry.go(true);
      }, MAX_HOLD_MS);
      this.admissions.push(entry);
      this.admit();
    });
  }

  /** Lets waiting first posts go: settled ones at once, changing ones while the budget allows. */
  private admit(): void {
    for (let i = 0; i < this.admissions.length; ) {
      const { slot, go } = this.admissions[i]!;
      const changing = slot.desired !== undefined && slot.desiredChanging;
      if (changing && this.owing.size >= this.editBudget) {
        i++;
        continue;
      }
      this.admissions.splice(i, 1);
      if (changing) this.owing.add(slot);
      go(true);
    }
  }

  /** After a message was sent: it owes an update if what Slack now shows will change. */
  private owes(slot: Slot, changing: boolean): void {
    if (changing) this.owing.add(slot);
    else if (this.owing.delete(slot)) this.admit();
  }

  private newSlot(spec: MessageSpec): Slot {
    let resolvePosted!: (ts: string | undefined) => void;
    const posted = new Promise<string | undefined>((resolve) => {
      resolvePosted = resolve;
    });
    return {
      key: spec.key,
      channel: spec.channel,
      ts: undefined,
      threadOf: spec.threadOf,
      threadTs: spec.threadTs,
      desired: undefined,
      desiredChanging: false,
      rank: rankOf('completion'),
      group: undefined,
      force: false,
      sent: undefined,
      busy: false,
      failed: false,
      onPosted: spec.onPosted,
      onFailed: spec.onFailed,
      posted,
      resolvePosted,
      touched: nowMs(this.clock),
    };
  }

  private drive(slot: Slot): void {
    if (slot.busy || !slot.desired) return;
    slot.busy = true;
    void this.track(
      this.deliver(slot).finally(() => {
        slot.busy = false;
        // A state that arrived after a permanent failure gets its own attempt.
        if (slot.desired && !slot.failed && !this.closed) this.drive(slot);
      }),
    );
  }

  /** Sends the slot's newest state until nothing newer is waiting. */
  private async deliver(slot: Slot): Promise<void> {
    while (slot.desired && !this.closed) {
      let threadTs = slot.threadTs;
      if (!slot.ts && !threadTs && slot.threadOf) {
        // Replies wait for their parent; FIFO buckets then keep their order.
        threadTs = this.slots.get(slot.threadOf)?.ts ?? (await this.slots.get(slot.threadOf)?.posted);
        if (!threadTs) {
          this.fail(slot, new SlackCallError('chat.postMessage', 'parent_not_posted', false));
          return;
        }
      }
      // A first post of a changing message waits while chat.update is behind (see the top).
      if (!slot.ts && slot.desiredChanging && !this.owing.has(slot) && !(await this.admission(slot))) return;
      if (!slot.desired) continue;
      // A redraw that changes nothing costs no token (the renderer redraws on every event).
      if (slot.ts && !slot.force && shownAs(slot.desired) === slot.sent) {
        this.counters.unchanged++;
        slot.desired = undefined;
        this.owes(slot, slot.desiredChanging);
        continue;
      }
      const method = slot.ts ? 'chat.update' : 'chat.postMessage';
      let payload: MessagePayload | undefined;
      let changing = false;
      try {
        // The payload is read when the token is granted, so a state replaced while waiting is never sent.
        const result = await this.send(
          method,
          () => {
            // Called again after a 429 or a transient failure: a newer state wins then too.
            if (slot.desired) {
              payload = slot.desired;
              changing = slot.desiredChanging;
            }
            slot.desired = undefined;
            if (slot.ts && shownAs(payload) === slot.sent && !slot.force) {
              this.counters.unchanged++;
              return undefined;
            }
            slot.force = false;
            return slot.ts
              ? { channel: slot.channel, ts: slot.ts, text: payload!.text, blocks: payload!.blocks }
              : {
                  channel: slot.channel,
                  text: payload!.text,
                  blocks: payload!.blocks,
                  ...(threadTs ? { thread_ts: threadTs } : {}),
                  unfurl_links: false,
                  unfurl_media: false,
                };
          },
          slot.channel,
          // A paused step first, then settled states (a completed step), then progress that will be replaced anyway.
          () => slot.rank,
        );
        if (!result) continue;
        slot.sent = shownAs(payload);
        this.owes(slot, changing);
        if (method === 'chat.postMessage') {
          const ts = String(result.ts);
          slot.ts = ts;
          if (typeof result.channel === 'string') slot.channel = result.channel;
          slot.resolvePosted(ts);
          try {
            await slot.onPosted?.({ ts, channel: slot.channel });
          } catch (error) {
            this.o.logger.error(
              { key: slot.key, err: (error as Error).message },
              'saving a posted message failed',
            );
          }
        }
      } catch (error) {
        const failure = classify(method, error);
        if (failure.slackError === 'message_not_found' || failure.slackError === 'cant_update_message') {
          // Someone deleted the message: post it again rather than leave the run invisible.
          slot.ts = undefined;
          slot.sent = undefined;
          slot.desired ??= payload;
          continue;
        }
        slot.desired ??= payload;
        this.fail(slot, failure);
        return;
      }
    }
  }

  private fail(slot: Slot, error: SlackCallError) {
    slot.failed = true;
    slot.desired = undefined;
    this.owes(slot, false);
    if (!slot.ts) slot.resolvePosted(undefined);
    this.o.logger.warn(
      { key: slot.key, channel: slot.channel, error: error.slackError },
      'Slack refused a message',
    );
    try {
      slot.onFailed?.(error);
    } catch {
      // A failing failure hook must not stop the publisher.
    }
  }

  /**
   * One Web API call: waits for its bucket, honours 429 Retry-After by pausing the bucket,
   * and retries transient failures with backoff. `args` may be a function evaluated when the
   * token is granted; returning undefined cancels the call.
   */
  private async send(
    method: string,
    args: Record<string, unknown> | (() => Record<string, unknown> | undefined),
    channel: string | undefined,
    rank?: () => number,
  ): Promise<Record<string, unknown> | undefined> {
    const bucket = this.limiter.bucket(method, channel);
    const maxAttempts = this.o.maxAttempts ?? 4;
    let body: Record<string, unknown> | undefined;
    for (let attempt = 1; ; ) {
      await bucket.take(rank);
      if (this.closed) throw new SlackCallError(method, 'publisher_closed', false);
      if (body === undefined) {
        body = typeof args === 'function' ? args() : args;
        if (body === undefined) return undefined;
      }
      this.counters.calls[method] = (this.counters.calls[method] ?? 0) + 1;
      this.o.observer?.onCall?.(method);
      try {
        return await this.o.client.apiCall(method, body);
      } catch (error) {
        const failure = classify(method, error);
        if (failure.retryAfterMs !== undefined) {
          // Not an attempt lost: Slack said when to come back.
          this.counters.rateLimited++;
          this.o.observer?.onRateLimited?.(method);
          this.o.logger.info({ method, retryAfterMs: failure.retryAfterMs }, 'Slack rate limit: pausing');
          bucket.pause(failure.retryAfterMs);
          if (typeof args === 'function') body = undefined;
          continue;
        }
        if (!failure.transient || attempt >= maxAttempts) {
          this.counters.failures++;
          throw failure;
        }
        this.counters.retries++;
        if (typeof args === 'function') body = undefined;
        const delay = (this.o.retryBaseMs ?? 500) * 2 ** (attempt - 1);
        attempt++;
        await new Promise<void>((resolve) => this.clock.setTimeout(resolve, delay));
      }
    }
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inflight.add(promise);
    const settle = () => {
      this.inflight.delete(promise);
      if (this.isIdle()) for (const done of [...this.drainWaiters]) done();
    };
    promise.then(settle, settle);
    return promise;
  }

  private isIdle(): boolean {
    if (this.inflight.size > 0) return false;
    for (const slot of this.slots.values()) if (slot.busy || (slot.desired && !slot.failed)) return false;
    return true;
  }

  /** The slot belongs to `group`, which has a state to send: recorded in the journal soon. */
  private join(slot: Slot, group: string): void {
    slot.group = group;
    let slots = this.groups.get(group);
    if (!slots) {
      slots = new Set();
      this.groups.set(group, slots);
    }
    slots.add(slot);
    if (!this.journaled.has(group)) {
      this.journaled.add(group);
      this.toJournal.add(group);
      // A new pending run is recorded at once (next turn): a process may die any moment.
      this.scheduleJournal(0);
    } else this.scheduleJournal(JOURNAL_SWEEP_MS);
  }

  private scheduleJournal(ms: number): void {
    if (this.closed) return;
    if (this.journalTimer && ms > 0) return;
    this.journalTimer?.cancel();
    this.journalTimer = this.clock.setTimeout(() => {
      this.journalTimer = undefined;
      void this.writeJournal();
    }, ms);
  }

  /** Records new pending groups, and groups whose every message was sent (or refused for good). */
  private async writeJournal(): Promise<void> {
    const journal = this.o.journal;
    if (!journal || this.journalWriting) return;
    const pending = [...this.toJournal];
    this.toJournal.clear();
    const fresh = new Set(pending);
    const sent: string[] = [];
    for (const group of this.journaled) {
      // Recorded first, cleared in a later sweep: a delete must never overtake its insert.
      if (fresh.has(group)) continue;
      const slots = this.groups.get(group);
      const open = slots && [...slots].some((s) => s.busy || (s.desired && !s.failed));
      if (open) continue;
      sent.push(group);
    }
    for (const group of sent) {
      this.journaled.delete(group);
      for (const slot of this.groups.get(group) ?? []) slot.group = undefined;
      this.groups.delete(group);
    }
    const pendingNow = pending.filter((g) => this.journaled.has(g));
    if (pendingNow.length === 0 && sent.length === 0) {
      if (this.journaled.size > 0) this.scheduleJournal(JOURNAL_SWEEP_MS);
      return;
    }
    this.journalWriting = journal.record(pendingNow, sent).catch((error: unknown) => {
      // Not recorded: try again with the next sweep.
      for (const group of pendingNow) this.toJournal.add(group);
      this.o.logger.warn({ err: (error as Error).message }, 'recording pending Slack messages failed');
    });
    await this.journalWriting;
    this.journalWriting = undefined;
    if (this.journaled.size > 0 || this.toJournal.size > 0)
      this.scheduleJournal(this.toJournal.size > 0 ? 0 : JOURNAL_SWEEP_MS);
  }

  /** Forgets the oldest idle messages beyond `maxSlots`; their ts lives on in the database. */
  private evictIdle() {
    const max = this.o.maxSlots ?? 5000;
    if (this.slots.size <= max) return;
    const idle = [...this.slots.values()]
      .filter((s) => !s.busy && !s.desired && s.ts && !this.owing.has(s))
      .sort((a, b) => a.touched - b.touched);
    for (const slot of idle.slice(0, this.slots.size - max)) this.slots.delete(slot.key);
  }
}

/** Each payload's digest, computed once: a send compares it up to three times (payloads are not changed once put). */
const digests = new WeakMap<MessagePayload, string>();

/** What a message looks like, for "Slack already shows this": a digest of its JSON. */
function shownAs(payload: MessagePayload | undefined): string {
  if (!payload) return createHash('sha256').update('undefined').digest('base64');
  let digest = digests.get(payload);
  if (digest === undefined) {
    digest = createHash('sha256').update(JSON.stringify(payload)).digest('base64');
    digests.set(payload, digest);
  }
  return digest;
}
