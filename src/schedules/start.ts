import type { Config } from '../config.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { Stores } from '../db/stores.js';
import type { RunsService } from '../engine/runs.js';
import type { Logger } from '../logging.js';
import {
  type CronFactory,
  type FiringEvent,
  type PauseTimeoutEvent,
  Scheduler,
  type SchedulerOptions,
} from './scheduler.js';
import { ScheduleService } from './service.js';

/**
 * Scheduled runs, for main.ts: sync the workflow files' schedules into the database, handle
 * whatever fell due while the bot was down, then fire every minute. Every bot process may
 * call this: each firing starts at most one run however many do (see scheduler.ts).
 */

/** What schedules need of the bot's core (src/bootstrap.ts). */
export interface SchedulesCore {
  config: Pick<Config, 'schedules'>;
  stores: Pick<Stores, 'schedules' | 'workflows'>;
  engine: { runs: Pick<RunsService, 'startRun'>; store: SchedulerOptions['store'] };
  logger: Logger;
}

export interface StartSchedulesOptions {
  /** Post `text` (mrkdwn) in a channel: missed firings, a run that could not start. */
  onNotice?: (channelId: string, text: string) => void | Promise<void>;
  /** A paused scheduled run was failed after its pause timeout; unset → onNotice gets the text. */
  onPauseTimeout?: (event: PauseTimeoutEvent) => void | Promise<void>;
  onFiring?: (event: FiringEvent) => void;
  /** Tests: a clock and a cron factory that drive time. */
  clock?: Pick<Clock, 'now'>;
  cron?: CronFactory;
  tickExpression?: string;
  graceMs?: number;
}

export interface Schedules {
  scheduler: Scheduler;
  service: ScheduleService;
  stop(): Promise<void>;
}

export function createScheduleService(core: SchedulesCore, clock?: Pick<Clock, 'now'>): ScheduleService {
  return new ScheduleService({
    schedules: core.stores.schedules,
    workflows: core.stores.workflows,
    defaultTimezone: core.config.schedules.timezone,
    minIntervalMinutes: core.config.schedules.minIntervalMinutes,
    clock,
  });
}

export async function startSchedules(
  core: SchedulesCore,
  options: StartSchedulesOptions = {},
): Promise<Schedules> {
  const now = (options.clock ?? systemClock).now();
  const summary = await core.stores.schedules.sync({
    defaultTimezone: core.config.schedules.timezone,
    now,
  });
  core.logger.info(summary, 'schedules synced');
  const scheduler = new Scheduler({
    schedules: core.stores.schedules,
    runs: core.engine.runs,
    store: core.engine.store,
    logger: core.logger,
    defaultPauseTimeoutMinutes: core.config.schedules.pauseTimeoutMinutes,
    clock: options.clock,
    cron: options.cron,
    tickExpression: options.tickExpression,
    graceMs: options.graceMs,
    onNotice: options.onNotice,
    onPauseTimeout: options.onPauseTimeout,
    onFiring: options.onFiring,
  });
  await scheduler.start();
  return { scheduler, service: createScheduleService(core, options.clock), stop: () => scheduler.stop() };
}
