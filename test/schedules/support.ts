import type { Database } from '../../src/db/database.js';
import type { Engine } from '../../src/engine/engine.js';
import { silentLogger } from '../../src/logging.js';
import {
  type CronFactory,
  type FiringEvent,
  type PauseTimeoutEvent,
  Scheduler,
  type SchedulerOptions,
} from '../../src/schedules/scheduler.js';
import { ScheduleService } from '../../src/schedules/service.js';
import type { TestClock } from '../support/clock.js';
import { putWorkflow, step } from '../support/engine.js';

/** A cron factory that never ticks by itself: tests call `tick()`. */
export function manualCron() {
  const created: { expression: string; options: unknown; stopped: boolean }[] = [];
  const factory: CronFactory = (expression, _onTick, options) => {
    const task = { expression, options, stopped: false };
    created.push(task);
    return {
      stop() {
        task.stopped = true;
      },
    };
  };
  return { factory, created };
}

/** A one-step workflow straight in the database. */
export function seedWorkflow(db: Database, name = 'digest') {
  return putWorkflow(db, {
    name,
    steps: [step('summarize', 'Summarize {{input}}', { provider: 'openai', model: 'gpt-4o-mini' })],
  });
}

export interface Harness {
  scheduler: Scheduler;
  service: ScheduleService;
  clock: TestClock;
  notices: { channelId: string; text: string }[];
  timeouts: PauseTimeoutEvent[];
  firings: FiringEvent[];
}

/** A scheduler and a service on `db`, sharing a test clock; notices are collected. */
export function harness(
  _db: Database,
  engine: Engine,
  clock: TestClock,
  overrides: Partial<SchedulerOptions> = {},
): Harness {
  const notices: Harness['notices'] = [];
  const timeouts: PauseTimeoutEvent[] = [];
  const firings: FiringEvent[] = [];
  const scheduler = new Scheduler({
    schedules: engine.stores.schedules,
    runs: engine.runs,
    store: engine.store,
    logger: silentLogger,
    clock,
    cron: manualCron().factory,
    defaultPauseTimeoutMinutes: 1440,
    onNotice: (channelId, text) => {
      notices.push({ channelId, text });
    },
    onFiring: (event) => {
      firings.push(event);
    },
    onPauseTimeout: (event) => {
      timeouts.push(event);
    },
    ...overrides,
  });
  const service = new ScheduleService({
    schedules: engine.stores.schedules,
    workflows: engine.stores.workflows,
    defaultTimezone: 'UTC',
    clock,
  });
  return { scheduler, service, clock, notices, timeouts, firings };
}

/** The firings of a schedule, oldest first, as compact rows. */
export async function firingsOf(db: Database, scheduleId: string) {
  const rows = await db.prisma.scheduleFiring.findMany({ where: { scheduleId }, orderBy: { fireAt: 'asc' } });
  return rows.map((r) => ({ fireAt: r.fireAt.toISOString(), outcome: r.outcome, hasRun: r.runId !== null }));
}
