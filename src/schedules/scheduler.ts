import cron from 'node-cron';
import { type Clock, systemClock } from '../core/clock.js';
import { CronSchedule } from '../core/cron.js';
import type { RunStore } from '../db/run-store.js';
import type { FiringOutcome, ScheduleRow, ScheduleStore } from '../db/schedule-store.js';
import { EngineError } from '../engine/engine-error.js';
import type { RunsService } from '../engine/runs.js';
import type { Logger } from '../logging.js';
import { missedNotice, startFailedNotice } from './notices.js';
import { failTimedOutRuns, type PauseTimeoutEvent } from './pause-timeout.js';

export type { PauseTimeoutEvent };

/**
 * Fires schedules. node-cron ticks once a minute (in UTC); each tick reads the schedules
 * that are due from the database and handles each due fire time:
 *
 * 1. the fire time is the scheduled minute in UTC, never the moment the tick ran;
 * 2. a ScheduleFiring row for (schedule, fire time) is INSERTed first. It is unique, so
 *    when several bot processes tick together exactly one insert succeeds; the others get
 *    a unique violation and leave that firing alone. Each firing starts at most one run;
 * 3. only then is a run started (trigger "schedule", startedBy "schedule:<id>").
 *
 * Reading the schedules from the database on every tick (rather than one node-cron task per
 * schedule) means a schedule added, paused or removed in any process takes effect in all
 * of them at the next minute, with nothing to keep in sync. Fire times come from
 * CronSchedule, which also decides what a clock change does (cron.ts). A crash between the
 * insert and the start loses that one firing rather than risking a second run.
 */

export interface CronTask {
  stop(): void | Promise<void>;
  destroy?(): void | Promise<void>;
}

/** node-cron's `schedule`, or a stand-in that tests drive. */
export type CronFactory = (
  expression: string,
  onTick: () => Promise<void>,
  options: { timezone: string; name: string; noOverlap: boolean },
) => CronTask;

export interface FiringEvent {
  scheduleId: string;
  fireAt: Date;
  outcome: FiringOutcome;
  /** False when another process had already claimed this firing. */
  claimed: boolean;
  runId?: string | undefined;
}

export interface SchedulerOptions {
  schedules: ScheduleStore;
  runs: Pick<RunsService, 'startRun'>;
  store: Pick<RunStore, 'moveRun' | 'moveStep' | 'steps' | 'activeRunOf' | 'pausedScheduledRuns'>;
  logger: Logger;
  clock?: Pick<Clock, 'now'>;
  cron?: CronFactory;
  /** What the cron factory is asked to tick on (default every minute). */
  tickExpression?: string;
  /** SCHEDULE_PAUSE_TIMEOUT_MINUTES: for schedules that set none; 0 = never. */
  defaultPauseTimeoutMinutes: number;
  /** A fire time handled later than this counts as missed (default 5 minutes). */
  graceMs?: number;
  /** Tell a channel something (missed firings, a run that could not start). */
  onNotice?: (channelId: string, text: string) => void | Promise<void>;
  /** A paused scheduled run was failed; without this handler, onNotice gets the text. */
  onPauseTimeout?: (event: PauseTimeoutEvent) => void | Promise<void>;
  /** Every firing this process handled or lost to another (logs, metrics, tests). */
  onFiring?: (event: FiringEvent) => void;
}

/** Missed firings recorded one by one; beyond this only their number is told. */
const MAX_RECORDED_MISSED = 100;
const MINUTE_MS = 60_000;

type DueSchedule = ScheduleRow;

export class Scheduler {
  private readonly clock: Pick<Clock, 'now'>;
  private readonly graceMs: number;
  private task: CronTask | undefined;
  private ticking: Promise<void> | undefined;

  constructor(private readonly o: SchedulerOptions) {
    this.clock = o.clock ?? systemClock;
    this.graceMs = o.graceMs ?? 5 * MINUTE_MS;
  }

  /** Handles what is due now (including firings missed while down), then ticks every minute. */
  async start(): Promise<void> {
    await this.tick();
    const factory = this.o.cron ?? nodeCronFactory(this.o.logger);
    this.task = factory(this.o.tickExpression ?? '* * * * *', () => this.tick(), {
      timezone: 'Etc/UTC',
      name: 'switchboard-schedules',
      noOverlap: true,
    });
  }

  async stop(): Promise<void> {
    const task = this.task;
    this.task = undefined;
    await task?.stop();
    await task?.destroy?.();
    await this.ticking;
  }

  /** One pass; never throws (a broken schedule is logged and the others still fire). */
  tick(): Promise<void> {
    if (this.ticking) return this.ticking;
    this.ticking = this.pass().finally(() => {
      this.ticking = undefined;
    });
    return this.ticking;
  }

  private async pass(): Promise<void> {
    const now = this.clock.now();
    await this.guard('arming schedules', () => this.arm(now));
    await this.guard('starting queued firings', () => this.startWaiting(now));
    const due = await this.guard('reading due schedules', () => this.o.schedules.due(now));
    for (const schedule of due ?? []) {
      await this.guard(`firing schedule ${schedule.id}`, () => this.fire(schedule, now));
    }
    await this.guard('checking paused scheduled runs', () =>
      failTimedOutRuns(
        {
          schedules: this.o.schedules,
          store: this.o.store,
          logger: this.o.logger,
          defaultPauseTimeoutMinutes: this.o.defaultPauseTimeoutMinutes,
          report: (event) =>
            this.o.onPauseTimeout
              ? this.callback(() => this.o.onPauseTimeout!(event))
              : event.channelId
                ? this.notify(event.channelId, event.text)
                : Promise.resolve(),
        },
        now,
      ),
    );
  }

  private async guard<T>(what: string, work: () => Promise<T>): Promise<T | undefined> {
    try {
      return await work();
    } catch (error) {
      this.o.logger.error(
        { err: (error as Error).message },
        `scheduler: ${what} failed; next tick tries again`,
      );
      return undefined;
    }
  }

  /** New, resumed or re-enabled schedules start counting from now: earlier is not "missed". */
  private async arm(now: Date): Promise<void> {
    for (const s of await this.o.schedules.unarmed()) {
      const next = new CronSchedule(s.cron, s.timezone).next(now);
      if (next) await this.o.schedules.arm(s.id, next);
    }
  }

  private async fire(schedule: DueSchedule, now: Date): Promise<void> {
    const cron = new CronSchedule(schedule.cron, schedule.timezone);
    const window = cron.between(schedule.nextFireAt!, now, MAX_RECORDED_MISSED + 1);
    const fireAt = window.latest;
    if (!fireAt) {
      await this.advance(schedule.id, undefined, cron.next(now));
      return;
    }
    const onTime = now.getTime() - fireAt.getTime() <= this.graceMs;
    const missed = window.recent.slice(0, -1);
    const missedCount = onTime ? window.count - 1 : window.count;

    let outcome: FiringOutcome = onTime
      ? 'started'
      : schedule.missedPolicy === 'run_once'
        ? 'missed_run'
        : 'missed_skipped';
    let detail: string | undefined;
    const active = outcome === 'missed_skipped' ? null : await this.activeRun(schedule.id);
    if (active) {
      const waiting = schedule.overlap === 'queue' && (await this.hasWaiting(schedule.id));
      outcome = schedule.overlap === 'queue' && !waiting ? 'queued' : 'skipped_overlap';
      detail =
        outcome === 'queued'
          ? `waits for run #${active.number}`
          : waiting
            ? 'a firing is already waiting for the previous run'
            : `run #${active.number} was still ${active.status}`;
    } else if (outcome === 'missed_skipped') detail = 'missed while Switchboard was down (missed: skip)';
    const starting = outcome === 'started' || outcome === 'missed_run';

    const claimed = await this.claim(schedule.id, fireAt, outcome, starting ? now : null, detail);
    const nextFireAt = cron.next(fireAt);
    let runNumber: number | undefined;
    let runId: string | undefined;
    let error: string | undefined;
    if (claimed) {
      const recorded = await this.o.schedules.recordMissed(schedule.id, missed);
      // Another process may have handled some of them already: those were not missed.
      const missedHere = missedCount - (missed.length - recorded);
      if (starting) {
        const started = await this.startRun(schedule, claimed, fireAt);
        runNumber = started.run?.number;
        runId = started.run?.id;
        error = started.error;
        if (error) outcome = 'failed';
      }
      if (missedHere > 0) {
        await this.notify(
          schedule.channelId,
          missedNotice({
            workflow: schedule.workflow.name,
            cron: schedule.cron,
            timezone: schedule.timezone,
            missed: missedHere,
            atLeast: window.capped,
            lastMissed: onTime ? missed.at(-1)! : fireAt,
            outcome,
            runNumber,
            activeRun: active ?? undefined,
            nextFireAt,
            error,
          }),
        );
      } else if (error) {
        await this.notify(schedule.channelId, startFailedNotice(this.facts(schedule), fireAt, error));
      }
    }
    if (claimed) this.o.logger.info({ scheduleId: schedule.id, fireAt, outcome, runId }, 'schedule fired');
    this.o.onFiring?.({ scheduleId: schedule.id, fireAt, outcome, claimed: claimed !== undefined, runId });
    await this.advance(schedule.id, fireAt, nextFireAt);
  }

  /** Inserts the firing; its id, or undefined when another process already has it. */
  private async claim(
    scheduleId: string,
    fireAt: Date,
    outcome: FiringOutcome,
    startedAt: Date | null,
    detail: string | undefined,
  ): Promise<string | undefined> {
    return this.o.schedules.claimFiring({ scheduleId, fireAt, outcome, startedAt, detail: detail ?? null });
  }

  private async startRun(
    schedule: DueSchedule,
    firingId: string,
    fireAt: Date,
  ): Promise<{ run?: { id: string; number: number }; error?: string }> {
    try {
      const run = await this.o.runs.startRun({
        workflow: schedule.workflow.name,
        input: schedule.input,
        startedBy: `schedule:${schedule.id}`,
        trigger: 'schedule',
        channelId: schedule.channelId,
        // One run per firing at the runs service too: a repeated start of this firing finds its run.
        idempotencyKey: `schedule:${schedule.id}:${fireAt.toISOString()}`,
      });
      await this.o.schedules.firingStarted(firingId, run.id);
      return { run };
    } catch (error) {
      const message = (error as Error).message;
      this.o.logger.warn({ scheduleId: schedule.id, fireAt, err: message }, 'scheduled run could not start');
      await this.o.schedules.firingFailed(firingId, message.slice(0, 500));
      // The runs service's refusals are written for people; anything else stays in the log.
      return { error: EngineError.isInstance(error) ? message : "an internal error (see the bot's log)" };
    }
  }

  private advance(scheduleId: string, firedAt: Date | undefined, next: Date | undefined): Promise<void> {
    return this.o.schedules.advance(scheduleId, firedAt, next);
  }

  private activeRun(scheduleId: string) {
    return this.o.store.activeRunOf(`schedule:${scheduleId}`);
  }

  private hasWaiting(scheduleId: string): Promise<boolean> {
    return this.o.schedules.hasWaitingFiring(scheduleId);
  }

  /** overlap: queue — a waiting firing starts once its schedule has no active run. */
  private async startWaiting(now: Date): Promise<void> {
    for (const firing of await this.o.schedules.waitingFirings()) {
      if (await this.activeRun(firing.scheduleId)) continue;
      if (!(await this.o.schedules.takeWaitingFiring(firing.id, now))) continue;
      const started = await this.startRun(firing.schedule, firing.id, firing.fireAt);
      if (started.error) {
        await this.notify(
          firing.schedule.channelId,
          startFailedNotice(this.facts(firing.schedule), firing.fireAt, started.error),
        );
      }
      this.o.onFiring?.({
        scheduleId: firing.scheduleId,
        fireAt: firing.fireAt,
        outcome: started.error ? 'failed' : 'queued',
        claimed: true,
        runId: started.run?.id,
      });
    }
  }

  private facts(schedule: DueSchedule) {
    return { workflow: schedule.workflow.name, cron: schedule.cron, timezone: schedule.timezone };
  }

  private async notify(channelId: string, text: string): Promise<void> {
    if (!this.o.onNotice) {
      this.o.logger.info({ channelId, text }, 'schedule notice (no Slack to post it)');
      return;
    }
    await this.callback(() => this.o.onNotice!(channelId, text));
  }

  /** A failing listener (Slack down) must not stop the scheduler. */
  private async callback(call: () => void | Promise<void>): Promise<void> {
    try {
      await call();
    } catch (error) {
      this.o.logger.warn({ err: (error as Error).message }, 'schedule notice could not be delivered');
    }
  }
}

/** node-cron v4, its log lines sent to ours. */
export function nodeCronFactory(logger: Logger): CronFactory {
  const log = {
    info: (message: string) => logger.debug({ source: 'node-cron' }, message),
    warn: (message: string) => logger.warn({ source: 'node-cron' }, message),
    error: (message: string | Error) => logger.error({ source: 'node-cron' }, String(message)),
    debug: (message: string | Error) => logger.debug({ source: 'node-cron' }, String(message)),
  };
  return (expression, onTick, options) => cron.schedule(expression, onTick, { ...options, logger: log });
}
