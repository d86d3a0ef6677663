import { BoundedMap } from '../core/bounded-map.js';
import { type Clock, nowMs, systemClock } from '../core/clock.js';
import type { EngineEventBus } from '../core/events.js';
import type { RunStore } from '../db/run-store.js';
import type { RunsService } from '../engine/runs.js';
import type { Logger } from '../logging.js';
import type { MessageSpec, Publisher, SlackCallError } from './publisher.js';
import type { RunViews } from './run-views.js';
import { isSlackTs, repliesThreadTs } from './view-model.js';
import { runParentMessage, stepCard } from './views/index.js';

/**
 * Keeps every run's Slack thread in step with the database. Engine events only mark a run
 * dirty (synchronously, so the engine is never held up); a per-run loop then reads the run
 * fresh and hands the parent message and one card per step to the publisher, which posts
 * or edits them, newest state only. Events that arrive while a run is being rendered fold
 * into one more pass.
 *
 * Several processes may share one PostgreSQL database. So that a message is posted once,
 * the first post of a parent or card is claimed with a guarded write on its ts column
 * (`threadTs` / `slackTs` null → `claim:<owner>:<ms>`); a claim older than CLAIM_TTL_MS
 * (its process died mid-post) may be taken over.
 */

export const CLAIM_TTL_MS = 5 * 60_000;

/**
 * A run that changed again while it was being rendered is rendered once more after this
 * pause, which folds a burst of events (a run moving step after step, clicks on a card)
 * into one pass. Slack takes about one edit a second per message anyway.
 */
export const RERENDER_PAUSE_MS = 100;

/**
 * Runs read and drawn at once; runs marked meanwhile wait their turn (`turn`), holding only
 * their flags (RunState). A pass mostly waits for the database, whose pool the engine shares:
 * a burst of runs used to start a pass for every one of them at once, each holding its query
 * chain (~20 KB in Prisma's client) queued at the pool — most of what the bot held per run in
 * flight (BENCHMARKS.md, "Memory per run in flight"). Fewer passes at once also get a smaller
 * share of the pool: at 200 runs over 50 channels, 16 at once in plain order let completions
 * wait behind progress (cards up to 2× Slack's floor late); settled changes first and 24 at
 * once keep cards within it, as when every run was drawn at once.
 */
export const RENDER_CONCURRENCY = 24;

/** The process a first-post claim (`claim:<owner>:<ms>`) belongs to; undefined for a ts. */
const claimOwner = (value: string): string | undefined =>
  value.startsWith('claim:') ? value.slice(6, value.lastIndexOf(':')) : undefined;

export const parentKey = (runId: string) => `run:${runId}`;
export const cardKey = (stepId: string) => `step:${stepId}`;

export interface RendererOptions {
  store: Pick<RunStore, 'claimMessage' | 'setCardTs'>;
  runs: RunsService;
  views: RunViews;
  publisher: Publisher;
  logger: Logger;
  /** This process's identity (the engine's lease owner), written into claims. */
  owner: string;
  /**
   * Told after a run changed by this process's engine was drawn: other processes sharing the
   * database may hold some of its messages (src/slack/replicas.ts) and must redraw them.
   */
  onDrawn?: ((runId: string, blocked: boolean) => void) | undefined;
  clock?: Pick<Clock, 'now'>;
  /** A running step's live text to show on its card (live output in card mode), if any. */
  liveText?: ((stepId: string) => string | undefined) | undefined;
  /** Runs drawn at once (default RENDER_CONCURRENCY). */
  concurrency?: number | undefined;
}

/** Every message of the run (a restart's redraw of everything), as opposed to one card. */
const ALL = '*';

/**
 * How many runs' "tell me if the parent cannot be posted" listeners, and runs Slack refused
 * for good, are remembered: a listener is dropped once its parent is posted, and these
 * bounds only matter for runs whose parent never is.
 */
export const MAX_REMEMBERED_RUNS = 2_000;
/** …and for how long: a parent not posted after this is not going to be for the listener. */
export const FAILURE_LISTENER_TTL_MS = 30 * 60_000;

interface RunState {
  dirty: boolean;
  /** Messages to re-send even if Slack shows the same (ALL: every one). */
  forced: Set<string>;
  /** Something changed since the last render (not only a forced redraw asked for). */
  changed: boolean;
  /** …and it was this process's engine that changed it (not another process). */
  local: boolean;
  /** Another process changed it but could not draw some of its messages (our claims): draw them all. */
  sendAll: boolean;
  /**
   * A message of it now shows a settled state or needs someone (a step or the run finished or
   * paused, a card edited or reset): drawn before runs that only progressed (`turn`).
   */
  settled: boolean;
  done: Promise<void>;
}

/** Statuses that will change without anyone acting: drawing them can wait for settled ones. */
const PROGRESS = new Set(['queued', 'pending', 'running']);

/** Told when a run's parent message cannot be posted (e.g. the bot is not in the channel). */
export type PostFailureListener = (error: SlackCallError) => void;

export class Renderer {
  private readonly states = new Map<string, RunState>();
  private readonly failureListeners: BoundedMap<string, PostFailureListener>;
  /** Runs whose parent Slack refused for good (bot not in the channel…): not retried on every event. */
  private readonly unpostable: BoundedMap<string, true>;
  private readonly idleWaiters = new Set<() => void>();
  /** Processes that stopped (src/slack/replicas.ts): their first-post claims are abandoned. */
  private readonly goneOwners: BoundedMap<string, true>;
  /** Runs a live claim of another process kept from being drawn here, and whose claim. */
  private readonly blockedBy = new Map<string, string>();
  /** Runs drawn here lately: this process may hold some of their messages. */
  private readonly drawn: BoundedMap<string, true>;

  /** Passes running now, and the runs waiting for one to end (FIFO). */
  private rendering = 0;
  private readonly turns: { state: RunState; go: () => void }[] = [];

  private stopped = false;

  constructor(private readonly o: RendererOptions) {
    this.failureListeners = new BoundedMap({
      max: MAX_REMEMBERED_RUNS,
      ttlMs: FAILURE_LISTENER_TTL_MS,
      clock: o.clock,
    });
    this.unpostable = new BoundedMap({ max: MAX_REMEMBERED_RUNS, clock: o.clock });
    this.goneOwners = new BoundedMap({ max: 1_000, clock: o.clock });
    this.drawn = new BoundedMap({ max: MAX_REMEMBERED_RUNS, ttlMs: FAILURE_LISTENER_TTL_MS, clock: o.clock });
  }

  /**
   * Another process changed the run: redraw it if this one drew it before (it may hold some
   * of its messages, or states of them not sent yet). It sent what it could itself, so only
   * states still waiting here are refreshed — unless a claim of ours kept it from drawing
   * some message (`blocked`): then every message of the run that differs is sent from here.
   * Not told on to the others again.
   */
  peerChanged(runId: string, blocked = false): void {
    if (!this.drawn.has(runId)) return;
    this.mark(runId, undefined, false, false);
    const state = this.states.get(runId);
    if (state && blocked) state.sendAll = true;
  }

  /**
   * Takes over runs whose messages a stopped process had not sent (src/slack/replicas.ts):
   * redraws them from the database, and treats that process's claims on first posts as
   * abandoned. A message it posted without saving its ts may then show twice.
   */
  adopt(runIds: readonly string[], fromOwners: readonly string[]): void {
    for (const owner of fromOwners) this.goneOwners.set(owner, true);
    for (const runId of runIds) this.schedule(runId);
  }

  /**
   * The processes alive now (src/slack/replicas.ts, every heartbeat): a run whose first post
   * was claimed by a process not among them is drawn here, its claims treated as abandoned.
   */
  ownersAlive(live: readonly string[]): void {
    const alive = new Set(live);
    for (const [runId, owner] of [...this.blockedBy]) {
      if (alive.has(owner)) continue;
      this.blockedBy.delete(runId);
      this.goneOwners.set(owner, true);
      this.schedule(runId);
    }
  }

  /** How many runs this renderer remembers something about (tests of its bounds). */
  remembered(): { failureListeners: number; unpostable: number } {
    return { failureListeners: this.failureListeners.size, unpostable: this.unpostable.size };
  }

  /** Subscribes to the engine's events; returns the unsubscribe function. */
  attach(events: EngineEventBus): () => void {
    const onRun = (e: { runId: string }) => this.mark(e.runId, undefined, true, false);
    const onMove = (e: { runId: string; to: string }) =>
      this.mark(e.runId, undefined, true, !PROGRESS.has(e.to));
    const onEdit = (e: { runId: string }) => this.mark(e.runId, undefined, true, true);
    events.on('run.changed', onMove);
    events.on('step.changed', onMove);
    events.on('step.edited', onEdit);
    events.on('attempt.recorded', onRun);
    return () => {
      events.off('run.changed', onMove);
      events.off('step.changed', onMove);
      events.off('step.edited', onEdit);
      events.off('attempt.recorded', onRun);
    };
  }

  /**
   * Marks a run for rendering; returns at once. `force` re-sends every message of the run
   * even when Slack already shows the same (after a restart, say).
   */
  schedule(runId: string, options: { force?: boolean } = {}): void {
    this.mark(runId, options.force ? ALL : undefined, true, true);
  }

  /**
   * Re-sends one message of the run — a card (`cardKey`) or the parent (`parentKey`) — even
   * if Slack already shows the same: a client that showed a refused choice must be reset.
   * Only that message: a refused click never costs the whole run's worth of chat.update.
   */
  redraw(runId: string, key: string): void {
    this.mark(runId, key, true, true);
  }

  private mark(runId: string, forced: string | undefined, local: boolean, settled: boolean): void {
    if (this.stopped) return;
    const state = this.states.get(runId);
    if (state) {
      state.dirty = true;
      if (forced) state.forced.add(forced);
      state.changed ||= !forced;
      state.local ||= local && !forced;
      state.settled ||= settled;
      return;
    }
    const fresh: RunState = {
      dirty: true,
      forced: new Set(forced ? [forced] : []),
      changed: !forced,
      local: local && !forced,
      sendAll: false,
      settled,
      done: Promise.resolve(),
    };
    this.states.set(runId, fresh);
    fresh.done = this.loop(runId, fresh);
  }

  /** Calls `listener` if the run's parent message cannot be posted; forgotten once posted. */
  onParentFailure(runId: string, listener: PostFailureListener): void {
    this.failureListeners.set(runId, listener);
  }

  /** Resolves when no run is waiting to be rendered (the publisher may still be sending). */
  idle(): Promise<void> {
    if (this.states.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  isIdle(): boolean {
    return this.states.size === 0;
  }

  stop(): void {
    this.stopped = true;
    // Passes waiting for their turn end (their loop sees `stopped`).
    for (const { go } of this.turns.splice(0)) {
      this.rendering++;
      go();
    }
  }

  /**
   * Waits until fewer than `concurrency` passes run, then counts this one in. Waiting runs go
   * in order, those with a settled change first (as the publisher sends a paused step and
   * completions before progress): a completion is not drawn behind every run that only moved on.
   */
  private async turn(state: RunState): Promise<void> {
    if (this.rendering < (this.o.concurrency ?? RENDER_CONCURRENCY) || this.stopped) {
      this.rendering++;
      return;
    }
    // The pass that ends hands its place over (endTurn): the count stays.
    await new Promise<void>((go) => this.turns.push({ state, go }));
  }

  private endTurn(): void {
    const settled = this.turns.findIndex((t) => t.state.settled);
    const [next] = this.turns.splice(Math.max(0, settled), 1);
    if (next) next.go();
    else this.rendering--;
  }

  private async loop(runId: string, state: RunState): Promise<void> {
    try {
      // Events come in runs (a step's attempt and its completion, one after the other):
      // let the ones emitted in this turn land before the first pass.
      await new Promise((resolve) => setImmediate(resolve));
      while (state.dirty && !this.stopped) {
        // Flags set while waiting fold into this pass.
        await this.turn(state);
        let drawn = false;
        try {
          drawn = await this.pass(runId, state);
        } finally {
          this.endTurn();
        }
        if (drawn && state.dirty)
          await new Promise((resolve) => setTimeout(resolve, RERENDER_PAUSE_MS).unref());
      }
    } finally {
      this.states.delete(runId);
      if (this.states.size === 0) {
        const waiters = [...this.idleWaiters];
        this.idleWaiters.clear();
        for (const done of waiters) done();
      }
    }
  }

  /** One pass over a marked run: takes its flags and draws it (false: nothing to draw). */
  private async pass(runId: string, state: RunState): Promise<boolean> {
    if (this.stopped) return false;
    state.dirty = false;
    const forced = state.forced;
    const changed = state.changed;
    const local = state.local;
    const sendAll = state.sendAll;
    state.sendAll = false;
    state.settled = false;
    let blocked = false;
    state.forced = new Set();
    state.changed = false;
    state.local = false;
    // Refused clicks ask for forced redraws of an unchanged run; while the last one still
    // waits for Slack's rate limit, drawing it again would only take its place.
    const waiting = (key: string) => this.o.publisher.forcedSendWaiting(key === ALL ? parentKey(runId) : key);
    if (forced.size > 0 && !changed && [...forced].every(waiting)) return false;
    try {
      // Changed only by another process: it sends what it changed; here only states still
      // waiting to go out are brought up to date, and first posts claimed here are made.
      blocked = await this.render(runId, forced, changed && !local && !sendAll);
    } catch (error) {
      this.o.logger.error({ runId, err: (error as Error).message }, 'rendering a run failed');
    }
    if (local) this.o.onDrawn?.(runId, blocked);
    return true;
  }

  /** Draws the run; true when another process's live claim kept a message from being drawn. */
  private async render(runId: string, forced: ReadonlySet<string>, peer = false): Promise<boolean> {
    const force = (key: string) => forced.has(ALL) || forced.has(key);
    this.drawn.set(runId, true);
    const loaded = await this.o.views.load(runId);
    // Runs started outside Slack (CLI) have no channel: nothing to show.
    if (!loaded?.row.channelId || this.unpostable.has(runId)) return false;
    const { row, run, steps, menus } = loaded;
    const channel = row.channelId!;
    const { publisher } = this.o;

    const parent = parentKey(runId);
    // What will change without anyone acting: an active run, and its pending or running steps.
    const active = row.status === 'queued' || row.status === 'running';
    // A run waiting for a person goes first when Slack's budget is short.
    const waiting = row.status === 'paused' || row.status === 'awaiting_approval';
    // Saved on the first post, and again if the message was deleted and posted anew.
    const parentSpec = {
      key: parent,
      channel,
      payload: runParentMessage(run),
      force: force(parent),
      changing: active,
      priority: waiting ? ('attention' as const) : undefined,
      group: runId,
      // A run started "in that thread" is itself a reply there.
      threadTs: row.inThreadTs ?? undefined,
      ...this.parentHooks(runId, Boolean(row.inThreadTs)),
    };
    if (publisher.has(parent) || isSlackTs(row.threadTs)) {
      publisher.put({
        ...parentSpec,
        ts: isSlackTs(row.threadTs) ? row.threadTs : undefined,
        refreshOnly: peer && isSlackTs(row.threadTs) && !force(parent),
      });
    } else {
      const claim = await this.claim('run', runId, row.threadTs);
      if (!claim) {
        this.noteBlocked(runId, row.threadTs);
        return true; // another process is posting it: told (onDrawn), it draws the cards
      }
      publisher.put(parentSpec);
    }

    let blocked = false;
    const threadTs = repliesThreadTs(row);
    // Cards of a run posted in an existing thread carry that thread's ts, so nothing would
    // make them wait for their parent: they are drawn only once it is posted.
    if (row.inThreadTs && !threadTs) return false;
    // Cards not posted yet are claimed together: one wait for the database, not one per card.
    const unposted = row.steps.map((step) => !publisher.has(cardKey(step.id)) && !isSlackTs(step.slackTs));
    const claimed = await Promise.all(
      row.steps.map((step, i) => (unposted[i] ? this.claim('step', step.id, step.slackTs) : undefined)),
    );
    for (const [i, view] of steps.entries()) {
      const step = row.steps[i]!;
      const key = cardKey(step.id);
      const spec = {
        key,
        channel,
        payload: stepCard(
          step.status === 'running' && this.o.liveText ? { ...view, live: this.o.liveText(step.id) } : view,
          menus,
        ),
        force: force(key),
        changing: active && (step.status === 'pending' || step.status === 'running'),
        priority:
          step.status === 'paused' || step.status === 'awaiting_approval'
            ? ('attention' as const)
            : undefined,
        group: runId,
        threadOf: parent,
        threadTs,
        onPosted: this.cardPosted(step.id),
      };
      if (!unposted[i]) {
        publisher.put({
          ...spec,
          ts: isSlackTs(step.slackTs) ? step.slackTs : undefined,
          refreshOnly: peer && isSlackTs(step.slackTs) && !force(key),
        });
        continue;
      }
      // Posted once across processes: only the holder of the claim posts the card.
      if (claimed[i]) publisher.put(spec);
      else {
        blocked = true;
        this.noteBlocked(runId, step.slackTs);
      }
    }
    if (!blocked) this.blockedBy.delete(runId);
    return blocked;
  }

  /**
   * The parent's hooks. The publisher keeps them as long as the message (MessageSpec), so
   * they are made here, holding the run's id only, not the run read for one pass.
   */
  private parentHooks(runId: string, inThread: boolean): Pick<MessageSpec, 'onPosted' | 'onFailed'> {
    return {
      onPosted: async ({ ts, channel }) => {
        this.failureListeners.delete(runId);
        await this.o.runs.setThread(runId, channel, ts);
        // Its cards go to the existing thread once the parent is there (see render): draw them now.
        if (inThread) this.schedule(runId);
      },
      onFailed: (error) => {
        if (!error.transient) this.unpostable.set(runId, true);
        this.failureListeners.get(runId)?.(error);
        this.failureListeners.delete(runId);
      },
    };
  }

  /** A card's hook on its first post (kept as long as the message, as parentHooks). */
  private cardPosted(stepId: string): MessageSpec['onPosted'] {
    return async ({ ts }) => {
      await this.o.store.setCardTs(stepId, ts);
    };
  }

  /** Remembers whose claim (`claim:<owner>:<ms>`) kept a message of the run from being drawn. */
  private noteBlocked(runId: string, current: string | null): void {
    const owner = current ? claimOwner(current) : undefined;
    if (owner === undefined || owner === this.o.owner) return;
    this.blockedBy.delete(runId);
    this.blockedBy.set(runId, owner);
    // Bounded: the oldest go first (a claim older than CLAIM_TTL_MS is taken over anyway).
    if (this.blockedBy.size > MAX_REMEMBERED_RUNS) this.blockedBy.delete(this.blockedBy.keys().next().value!);
  }

  /**
   * Claims the first post of a parent (`run`) or card (`step`): a guarded write from what
   * was read (null or a stale claim) to our claim. Returns the claim, or undefined when
   * another process holds a live one.
   */
  private async claim(kind: 'run' | 'step', id: string, current: string | null): Promise<string | undefined> {
    const now = nowMs(this.o.clock ?? systemClock);
    if (current) {
      const at = Number(current.split(':').at(-1));
      const owner = claimOwner(current);
      const abandoned = owner !== undefined && this.goneOwners.has(owner);
      if (!current.startsWith('claim:') || (!abandoned && Number.isFinite(at) && now - at < CLAIM_TTL_MS))
        return undefined;
    }
    const claim = `claim:${this.o.owner}:${now}`;
    return (await this.o.store.claimMessage(kind, id, current, claim)) ? claim : undefined;
  }
}
