import type { types } from '@slack/bolt';
import { type Clock, nowMs, systemClock } from '../core/clock.js';
import type { EngineEventBus } from '../core/events.js';
import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId } from '../core/provider-spec.js';
import type { RunReads } from '../db/run-reads.js';
import { budgetDay } from '../engine/budget.js';
import { describeHealth, healthStatus } from '../health/describe.js';
import type { HealthRow } from '../health/stats.js';
import type { Logger } from '../logging.js';
import type { ScheduleService, ScheduleView } from '../schedules/service.js';
import type { LoadedRun, RunViews } from './run-views.js';
import { alternativesFor, runView } from './view-model.js';
import { type AttentionItem, type HealthLine, homeView, type SpendLine } from './views/home-view.js';
import type { MenuOptions } from './views/model.js';
import type { Visibility } from './visibility.js';

/**
 * The App Home tab, built from the database on every open (views.publish), for the person
 * looking: only the runs and schedules of channels they are in (visibility.ts), so no one's
 * Home carries another channel's input, errors or step ids. Users who opened it lately get
 * it republished when a run pauses or finishes, so "Needs attention" does not go stale
 * while they look at it; a click made on it republishes it with the answer on top.
 */

export interface HomeTabOptions {
  reads: Pick<RunReads, 'recentRuns' | 'pausedRuns' | 'usageOf' | 'spendSince'>;
  visibility: Visibility;
  views: RunViews;
  schedules: ScheduleService;
  catalogue: ModelCatalogue;
  /** Provider health rows (grouped by provider); default none. */
  health?: (() => Promise<HealthRow[]>) | undefined;
  /** views.publish. */
  publish: (userId: string, view: types.HomeView) => Promise<unknown>;
  logger: Logger;
  /** Clock for the "opened lately" window. */
  clock?: Pick<Clock, 'now'>;
  /** BUDGET_DAILY_USD, shown beside today's spend. */
  dailyCapUsd?: number | undefined;
}

/** What the Homes of one refresh share (see HomeTab.view). */
interface Shared {
  health: Promise<HealthLine[]>;
  schedules: Promise<ScheduleView[]>;
  load(runId: string): Promise<LoadedRun | undefined>;
}

const MAX_ATTENTION = 10;
const RECENT_RUNS = 10;
const MAX_SCHEDULES = 20;
/** Homes opened this recently are republished when runs change. */
const WATCH_MS = 30 * 60_000;
const REFRESH_DELAY_MS = 2_000;
const MAX_WATCHED = 50;

export class HomeTab {
  private readonly watchers = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private stopped = false;

  constructor(private readonly o: HomeTabOptions) {}

  private now(): number {
    return nowMs(this.o.clock ?? systemClock);
  }

  /**
   * `userId`'s Home view, with `notice` (safe mrkdwn) on top. `shared` holds what is the same
   * for everyone, read once when many Homes are built together (a refresh).
   */
  async view(userId: string, notice?: string, shared: Shared = this.shared()): Promise<types.HomeView> {
    const { visibility } = this.o;
    // The workspace's spend adds up every channel's runs, private ones included: admins only.
    const [attention, recent, health, schedules, spend] = await Promise.all([
      this.attention(userId, shared),
      visibility.recentRuns(userId, RECENT_RUNS),
      shared.health,
      shared.schedules.then((all) => visibility.filter(userId, all, (s) => s.channelId)),
      visibility.isAdmin(userId) ? this.spendToday() : Promise.resolve(undefined),
    ]);
    const usage = await this.o.reads.usageOf(recent.map((r) => r.id));
    return homeView({
      attention: attention.items,
      moreAttention: attention.more,
      menus: attention.menus,
      recent: recent.map((r) => runView(r, { usage: usage.get(r.id) })),
      spend,
      health,
      schedules: schedules.slice(0, MAX_SCHEDULES),
      notice,
    });
  }

  /** Builds and publishes the user's Home; remembers that they are looking at it. */
  async publish(userId: string, notice?: string): Promise<void> {
    this.watchers.set(userId, this.now());
    if (this.watchers.size > MAX_WATCHED) {
      const oldest = [...this.watchers.entries()].sort((a, b) => a[1] - b[1])[0];
      if (oldest) this.watchers.delete(oldest[0]);
    }
    await this.o.publish(userId, await this.view(userId, notice));
  }

  /** Republishes recent watchers' Homes shortly after a run pauses or ends. */
  attach(events: EngineEventBus): () => void {
    const onRun = (e: { to: string }) => {
      if (['paused', 'running', 'completed', 'failed', 'cancelled'].includes(e.to)) this.soon();
    };
    events.on('run.changed', onRun);
    return () => events.off('run.changed', onRun);
  }

  /** Resolves when no refresh is running. */
  async idle(): Promise<void> {
    await this.refreshing;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private soon(): void {
    if (this.stopped || this.timer || this.watchers.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refreshing = this.refreshAll().finally(() => {
        this.refreshing = undefined;
      });
    }, REFRESH_DELAY_MS);
    this.timer.unref();
  }

  private async refreshAll(): Promise<void> {
    const since = this.now() - WATCH_MS;
    for (const [userId, at] of this.watchers) if (at < since) this.watchers.delete(userId);
    if (this.watchers.size === 0 || this.stopped) return;
    // One view per person: each sees the runs of their own channels. What is the same for
    // all (health, schedules, a paused run's card) is read once for the whole refresh.
    const shared = this.shared();
    for (const userId of [...this.watchers.keys()]) {
      if (this.stopped) return;
      try {
        await this.o.publish(userId, await this.view(userId, undefined, shared));
      } catch (error) {
        this.o.logger.warn({ err: (error as Error).message }, 'Home tab refresh failed');
      }
    }
  }

  /** What every Home of one refresh shows alike, each read at most once. */
  private shared(): Shared {
    const loads = new Map<string, Promise<LoadedRun | undefined>>();
    const schedules = this.o.schedules.listSchedules();
    // Each view awaits it and reports its failure; a refresh stopped before any did must not leave it unhandled.
    schedules.catch(() => {});
    return {
      health: this.health(),
      schedules,
      load: (runId) => {
        let loaded = loads.get(runId);
        if (!loaded) {
          loaded = this.o.views.load(runId);
          loads.set(runId, loaded);
        }
        return loaded;
      },
    };
  }

  private async attention(
    userId: string,
    shared: Shared,
  ): Promise<{ items: AttentionItem[]; more: number; menus: MenuOptions }> {
    const { ids: paused, total } = await this.o.visibility.pausedRuns(userId, MAX_ATTENTION);
    const items: AttentionItem[] = [];
    let menus: MenuOptions | undefined;
    for (const id of paused) {
      const loaded = await shared.load(id);
      if (!loaded) continue;
      menus ??= loaded.menus;
      // The step someone has to act on. A run paused by hand has none: its Resume is on the run.
      const step = loaded.steps.find((s) => s.status === 'paused' || s.status === 'awaiting_approval');
      if (!step) continue;
      if (step.status === 'awaiting_approval') {
        items.push({ run: loaded.run, step, alternatives: [] });
        continue;
      }
      const failed = {
        provider: (step.lastError?.provider ?? step.provider) as ProviderId,
        model: step.lastError?.model ?? step.model,
      };
      items.push({
        run: loaded.run,
        step,
        alternatives: alternativesFor(failed, loaded.plans.get(step.id), this.o.catalogue),
      });
    }
    return {
      items,
      more: Math.max(0, total - items.length),
      menus: menus ?? { providers: [], personas: [] },
    };
  }

  /** What today's calls (UTC) cost, and the global cap (docs/control.md). */
  private async spendToday(): Promise<SpendLine> {
    const day = budgetDay(new Date(this.now()));
    const spent = await this.o.reads.spendSince(new Date(`${day}T00:00:00.000Z`));
    return { day, cost: { usd: spent.costUsd, unpriced: spent.unpriced }, capUsd: this.o.dailyCapUsd };
  }

  private async health(): Promise<HealthLine[]> {
    let rows: HealthRow[] = [];
    try {
      rows = (await this.o.health?.()) ?? [];
    } catch (error) {
      this.o.logger.warn({ err: (error as Error).message }, 'provider health unavailable for Home');
    }
    const lines: HealthLine[] = [];
    for (const provider of this.o.catalogue.providers) {
      const row =
        rows.find((r) => r.provider === provider && r.model === null) ??
        rows.find((r) => r.provider === provider);
      const status = healthStatus(row);
      const label = this.o.catalogue.label(provider);
      lines.push({
        ok: status === 'healthy' || status === 'unknown',
        text: row ? `${label}: ${describeHealth(row)}` : `${label}: ${provider} — no recent calls`,
      });
    }
    return lines;
  }
}
