import { BoundedMap } from '../core/bounded-map.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { EngineEventBus, EngineEvents } from '../core/events.js';
import { defuseBroadcasts, escapeMrkdwn } from '../core/mrkdwn.js';
import type { RunReads } from '../db/run-reads.js';
import type { RunStore } from '../db/run-store.js';
import type { Logger } from '../logging.js';
import { classify, type Publisher } from './publisher.js';
import type { RateLimits } from './rate-limit.js';
import { whenParentPosted } from './run-parent.js';
import { isSlackTs } from './view-model.js';

/**
 * Live output (docs/slack.md, "Live output"): while a step runs, the text its provider
 * streams (the engine's `step.output` events) appears in the run's thread.
 *
 * - **Stream mode**, when Slack allows it: a run started by a person (the stream's
 *   recipient, which Slack requires in a channel) or any run in a DM. The step's text goes
 *   to one streaming message in the thread (chat.startStream with a task_update chunk
 *   naming the step, then chat.appendStream); when the step leaves `running` the stream is
 *   stopped and the message deleted, so the thread keeps only its parent and one card per
 *   step, the card holding the final output as before.
 * - **Card mode** otherwise (a scheduled run, a Workflow Builder or CLI run with nobody to
 *   address, a channel or workspace where Slack refused to stream): the running step's
 *   card shows the latest text, redrawn by the renderer at a pace that leaves most of
 *   chat.update's budget to state changes.
 *
 * Fair share: each live step has at most one call waiting or in flight, and its body is
 * built when the call's token is granted, with all text since the last append (coalesced).
 * The methods' token buckets are FIFO, so every live step gets its turn in order. Live text
 * never uses chat.postMessage, and its chat.update redraws are "changing" states, which the
 * publisher sends after settled ones (paused, failed, completed): state changes never wait
 * behind live text.
 *
 * A new attempt (a retry or a fallback) voids what the last one showed: its stream is
 * stopped and deleted and a new one starts, so texts are never concatenated. A stream's
 * message is recorded on its step (RunStep.liveTs), so one left open by a process that
 * stopped is closed by whichever process sees the step move next.
 */

/** Characters of one attempt's text shown live at most; the card holds the whole output. */
export const MAX_LIVE_CHARS = 12_000;
/** Characters sent in one call at most (escaped, they stay within Slack's 12,000). */
const MAX_PIECE_CHARS = 2_000;
/** Share of chat.update's rate that live card redraws may use. */
export const CARD_SHARE = 0.5;

/** Slack errors that say the workspace (or this app) cannot stream at all. */
const WORKSPACE_REFUSALS = new Set([
  'unknown_method',
  'not_allowed_token_type',
  'missing_scope',
  'access_denied',
  'accesslimited',
  'enterprise_is_restricted',
  'method_deprecated',
  'deprecated_endpoint',
  'team_access_not_granted',
]);
/** How long a refusal is believed before streaming is tried again. */
export const REFUSAL_TTL_MS = 10 * 60_000;

const SLACK_USER_ID = /^[UW][A-Z0-9]+$/;

export interface LiveOutputOptions {
  publisher: Publisher;
  store: Pick<RunStore, 'swapLiveTs' | 'takeLiveTs'>;
  /** The run's channel, thread, starter and steps (one light read per stream). */
  reads: Pick<RunReads, 'runWithSteps' | 'thread'>;
  /** Redraws a run's messages (card mode). */
  redraw: (runId: string) => void;
  logger: Logger;
  limits: RateLimits;
  clock?: Pick<Clock, 'now'>;
  /** The workspace's id (auth.test): a stream's recipient_team_id. */
  teamId: () => Promise<string | undefined>;
  /** How long a stream waits for its run's parent message (default 15 s). */
  parentWaitMs?: number;
}

type Mode = 'stream' | 'card' | 'off';

interface Live {
  runId: string;
  stepId: string;
  attempt: number;
  /** The current attempt's text so far (raw, as the provider sent it). */
  text: string;
  /** How much of `text` the stream has been sent. */
  sent: number;
  mode: Mode | undefined;
  channel?: string;
  threadTs?: string;
  recipient?: string | undefined;
  teamId?: string | undefined;
  title?: string;
  /** The current attempt's stream message. */
  ts?: string | undefined;
  /** Streams of voided attempts, to stop and delete. */
  stale: string[];
  ended: 'complete' | 'error' | undefined;
  busy: boolean;
  /** Card mode: text changed since the card was last redrawn. */
  dirty: boolean;
}

export class LiveOutput {
  private readonly lives = new Map<string, Live>();
  private readonly jobs = new Set<Promise<void>>();
  private readonly refusedChannels: BoundedMap<string, true>;
  private refusedUntil = 0;
  private cardTimer: NodeJS.Timeout | undefined;
  private cardCursor = 0;
  private readonly cardTickMs: number;
  private readonly clock: Pick<Clock, 'now'>;
  private closed = false;

  constructor(private readonly o: LiveOutputOptions) {
    this.clock = o.clock ?? systemClock;
    this.refusedChannels = new BoundedMap({ max: 2_000, ttlMs: REFUSAL_TTL_MS, clock: this.clock });
    const update = o.limits['chat.update'] ?? { perSecond: 44 / 60, burst: 4 };
    this.cardTickMs = Math.max(50, Math.ceil(1000 / (update.perSecond * CARD_SHARE)));
  }

  attach(events: EngineEventBus): () => void {
    const onOutput = (e: EngineEvents['step.output'][0]) => this.onOutput(e);
    const onStep = (e: EngineEvents['step.changed'][0]) => {
      if (e.to !== 'running') this.onEnded(e.runId, e.stepId, e.to);
    };
    events.on('step.output', onOutput);
    events.on('step.changed', onStep);
    return () => {
      events.off('step.output', onOutput);
      events.off('step.changed', onStep);
    };
  }

  /** The live text a running step's card shows (card mode), or undefined. */
  cardText(stepId: string): string | undefined {
    const live = this.lives.get(stepId);
    if (live?.mode !== 'card' || live.ended || !live.text) return undefined;
    return live.text.length > MAX_LIVE_CHARS ? live.text.slice(0, MAX_LIVE_CHARS) : live.text;
  }

  /** Live steps in this process, by mode (metrics, tests). */
  counts(): Record<Mode | 'undecided', number> {
    const out = { stream: 0, card: 0, off: 0, undecided: 0 };
    for (const live of this.lives.values()) out[live.mode ?? 'undecided'] += 1;
    return out;
  }

  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.all([...this.jobs]);
  }

  isIdle(): boolean {
    return this.jobs.size === 0;
  }

  close(): void {
    this.closed = true;
    if (this.cardTimer) clearTimeout(this.cardTimer);
    this.cardTimer = undefined;
  }

  private onOutput(e: EngineEvents['step.output'][0]): void {
    if (this.closed) return;
    let live = this.lives.get(e.stepId);
    if (!live) {
      if (!e.reset || !e.text) return;
      live = {
        runId: e.runId,
        stepId: e.stepId,
        attempt: e.attempt,
        text: '',
        sent: 0,
        mode: undefined,
        stale: [],
        ended: undefined,
        busy: false,
        dirty: false,
      };
      this.lives.set(e.stepId, live);
    }
    if (live.ended) return;
    if (e.reset || e.attempt !== live.attempt) {
      // What an earlier attempt showed is void: never concatenated with the next one's.
      if (live.ts) live.stale.push(live.ts);
      live.ts = undefined;
      live.text = '';
      live.sent = 0;
      live.attempt = e.attempt;
      live.dirty = true;
      // A stream cut off by Slack (stopped, gone) may be tried again for a new attempt.
      if (live.mode === 'off') live.mode = undefined;
    }
    if (live.text.length < MAX_LIVE_CHARS) live.text += e.text;
    live.dirty = true;
    // Card mode: the next turn of the card rotation takes it (no work per token).
    if (live.mode === 'card' && !live.busy && live.stale.length === 0) this.scheduleCards();
    else this.drive(live);
  }

  private onEnded(runId: string, stepId: string, to: string): void {
    const live = this.lives.get(stepId);
    const how = to === 'completed' || to === 'awaiting_approval' ? 'complete' : 'error';
    if (!live) {
      // Nothing live here; a stream another process left open (it stopped mid-step) is
      // closed by whoever sees the step move next.
      this.track(this.closeOrphan(runId, stepId, how));
      return;
    }
    live.ended = how;
    this.drive(live);
  }

  private drive(live: Live): void {
    if (live.busy || this.closed) return;
    live.busy = true;
    this.track(
      this.work(live)
        .catch((error: unknown) =>
          this.o.logger.warn(
            { stepId: live.stepId, err: (error as Error).message },
            'live output: giving up on this step',
          ),
        )
        .finally(() => {
          live.busy = false;
          if (this.lives.get(live.stepId) !== live) return;
          if (live.ended || live.stale.length > 0 || this.hasUnsent(live)) this.drive(live);
        }),
    );
  }

  /** One step's calls, one at a time, until nothing is left to send. */
  private async work(live: Live): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const stale = live.stale.shift();
      if (stale) {
        await this.closeStream(live, stale, 'error');
        continue;
      }
      if (live.ended) {
        if (live.ts) await this.closeStream(live, live.ts, live.ended);
        else await this.closeOrphan(live.runId, live.stepId, live.ended);
        this.lives.delete(live.stepId);
        if (live.mode === 'card') this.o.redraw(live.runId);
        return;
      }
      if (live.mode === undefined) {
        await this.decide(live);
        continue;
      }
      if (live.mode === 'card') {
        this.scheduleCards();
        return;
      }
      if (live.mode === 'off' || !this.hasUnsent(live)) return;
      // Refused: the card shows the text from now on (card mode), or nothing more goes.
      if (!(await this.send(live)) && (live.mode as Mode) !== 'card') return;
    }
  }

  private hasUnsent(live: Live): boolean {
    return live.mode === 'stream' && unsentPiece(live).length > 0;
  }

  /** Where the step's text goes: a stream addressed to the run's starter, or its card. */
  private async decide(live: Live): Promise<void> {
    const row = await this.o.reads.runWithSteps(live.runId);
    const step = row?.steps.find((s) => s.id === live.stepId);
    if (!row?.channelId || !step || step.status !== 'running') {
      live.mode = 'off';
      return;
    }
    live.channel = row.channelId;
    live.title = `Step ${step.position + 1}/${row.steps.length} · ${step.name}`.slice(0, 150);
    const dm = row.channelId.startsWith('D');
    const person = SLACK_USER_ID.test(row.startedBy) ? row.startedBy : undefined;
    const refused = this.clock.now().getTime() < this.refusedUntil || this.refusedChannels.has(row.channelId);
    if ((!dm && !person) || refused) {
      live.mode = 'card';
      return;
    }
    // A stream is a reply in the run's thread: it needs the parent posted.
    const threadTs = isSlackTs(row.threadTs)
      ? row.threadTs
      : await whenParentPosted(
          {
            publisher: this.o.publisher,
            readThread: (runId) => this.o.reads.thread(runId),
            clock: this.clock,
            closed: () => this.closed,
          },
          live.runId,
          this.o.parentWaitMs ?? 15_000,
        );
    live.threadTs = row.inThreadTs ?? threadTs;
    if (!live.threadTs) {
      live.mode = 'card';
      return;
    }
    if (!dm) {
      live.recipient = person;
      live.teamId = await this.o.teamId();
      if (!live.teamId) {
        live.mode = 'card';
        return;
      }
    }
    live.mode = 'stream';
  }

  /**
   * Starts the step's stream or appends to it: everything not sent yet, built when the token
   * comes. False when nothing went (the attempt was voided meanwhile, or Slack refused).
   */
  private async send(live: Live): Promise<boolean> {
    const starting = live.ts === undefined;
    const method = starting ? 'chat.startStream' : 'chat.appendStream';
    const attempt = live.attempt;
    let piece = '';
    const build = () => {
      if (live.attempt !== attempt || live.ended) return undefined;
      // The stream starts with its task only: its text follows once the stream is recorded on
      // the step, so no text is ever shown by a stream that another process could not close.
      if (starting)
        return {
          channel: live.channel,
          thread_ts: live.threadTs,
          ...(live.recipient ? { recipient_user_id: live.recipient, recipient_team_id: live.teamId } : {}),
          task_display_mode: 'timeline',
          chunks: [{ type: 'task_update', id: live.stepId, title: live.title, status: 'in_progress' }],
        };
      piece = unsentPiece(live);
      if (!piece) return undefined;
      return { channel: live.channel, ts: live.ts, markdown_text: neutralise(piece) };
    };
    try {
      // A call its step no longer needs (it ended, or the attempt was voided) goes first and
      // is cancelled at once, so the stream's close never waits behind other steps' text.
      const result = await this.o.publisher.call(
        method,
        { channel: live.channel },
        { priority: 'live', build, urgent: () => live.ended !== undefined || live.attempt !== attempt },
      );
      if (starting && typeof result.ts === 'string') {
        // Recorded first, so that whoever sees the step move next can close it.
        const previous = await this.o.store.swapLiveTs(live.stepId, `${live.channel}/${result.ts}`);
        if (previous && previous !== `${live.channel}/${result.ts}`)
          await this.closeRecorded(previous, 'error');
        if (live.attempt !== attempt) {
          // Voided while the call was out: the stream it started is stale too.
          live.stale.push(result.ts);
          return true;
        }
        live.ts = result.ts;
      }
      if (Object.keys(result).length === 0 || live.attempt !== attempt) return false; // did not go
      live.sent += piece.length;
      return true;
    } catch (error) {
      const failure = classify(method, error);
      if (starting && !failure.transient) {
        // Slack will not stream here: remember it, and show the text on the card instead.
        if (WORKSPACE_REFUSALS.has(failure.slackError))
          this.refusedUntil = this.clock.now().getTime() + REFUSAL_TTL_MS;
        else this.refusedChannels.set(live.channel!, true);
        this.o.logger.info(
          { stepId: live.stepId, error: failure.slackError },
          'Slack refused to stream: showing live text on the card',
        );
        live.mode = 'card';
        live.dirty = true;
        return false;
      }
      // The stream is gone (stopped by the person, deleted) or Slack keeps failing: the
      // card will hold the output; this attempt shows nothing more.
      this.o.logger.info({ stepId: live.stepId, error: failure.slackError }, 'live stream ended early');
      live.mode = 'off';
      return false;
    }
  }

  /** Stops a stream (its task marked complete or failed) and deletes it: the card holds the output. */
  private async closeStream(live: Live, ts: string, how: 'complete' | 'error'): Promise<void> {
    await this.o.store.takeLiveTs(live.stepId, `${live.channel}/${ts}`).catch(() => null);
    await this.stopAndDelete(live.channel!, ts, {
      id: live.stepId,
      title: live.title ?? 'Step',
      status: how,
    });
  }

  /** A stream recorded on the step that this process does not hold: close it once. */
  private async closeOrphan(_runId: string, stepId: string, how: 'complete' | 'error'): Promise<void> {
    const recorded = await this.o.store.takeLiveTs(stepId);
    if (recorded) await this.closeRecorded(recorded, how, stepId);
  }

  private async closeRecorded(recorded: string, how: 'complete' | 'error', stepId?: string): Promise<void> {
    const [channel, ts] = recorded.split('/');
    if (!channel || !ts) return;
    await this.stopAndDelete(channel, ts, stepId ? { id: stepId, title: 'Step', status: how } : undefined);
  }

  private async stopAndDelete(
    channel: string,
    ts: string,
    task: { id: string; title: string; status: 'complete' | 'error' } | undefined,
  ): Promise<void> {
    try {
      await this.o.publisher.call('chat.stopStream', {
        channel,
        ts,
        ...(task ? { chunks: [{ type: 'task_update', ...task }] } : {}),
      });
    } catch (error) {
      // Already stopped (by the person, or by Slack): it is deleted all the same.
      this.o.logger.debug({ err: classify('chat.stopStream', error).slackError }, 'stopping a live stream');
    }
    try {
      await this.o.publisher.call('chat.delete', { channel, ts });
    } catch (error) {
      const failure = classify('chat.delete', error);
      if (failure.slackError !== 'message_not_found')
        this.o.logger.warn(
          { channel, ts, error: failure.slackError },
          'could not delete a live stream message',
        );
    }
  }

  /**
   * Card mode: one redraw per tick, round-robin over the steps whose text changed, at a pace
   * that uses at most CARD_SHARE of chat.update's rate however many steps are live.
   */
  private scheduleCards(): void {
    if (this.cardTimer || this.closed) return;
    this.cardTimer = setTimeout(() => {
      this.cardTimer = undefined;
      const cards = [...this.lives.values()].filter((l) => l.mode === 'card' && !l.ended);
      if (cards.length === 0) return;
      for (let i = 0; i < cards.length; i++) {
        const live = cards[(this.cardCursor + i) % cards.length]!;
        if (!live.dirty) continue;
        live.dirty = false;
        this.cardCursor = (this.cardCursor + i + 1) % cards.length;
        this.o.redraw(live.runId);
        break;
      }
      if (cards.some((l) => l.dirty)) this.scheduleCards();
    }, this.cardTickMs);
    this.cardTimer.unref();
  }

  private track(job: Promise<void>): void {
    const tracked = job.catch((error: unknown) =>
      this.o.logger.warn({ err: (error as Error).message }, 'live output failed'),
    );
    this.jobs.add(tracked);
    void tracked.finally(() => this.jobs.delete(tracked));
  }
}

/**
 * The text not sent yet, at most MAX_PIECE_CHARS, held back from a trailing `@word` that a
 * later delta might complete into `@channel` (defused only once whole).
 */
function unsentPiece(live: Live): string {
  const end = Math.min(live.text.length, MAX_LIVE_CHARS, live.sent + MAX_PIECE_CHARS);
  let piece = live.text.slice(live.sent, end);
  const at = piece.lastIndexOf('@');
  if (at >= 0 && end === live.text.length && /^@[a-z]{0,8}$/i.test(piece.slice(at)))
    piece = piece.slice(0, at);
  return piece;
}

/** Model text → inert markdown: no mentions, links or broadcasts (as on the cards). */
function neutralise(text: string): string {
  return defuseBroadcasts(escapeMrkdwn(text));
}
