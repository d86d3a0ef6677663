import type { RunStore } from '../db/run-store.js';
import type { ScheduleStore } from '../db/schedule-store.js';
import type { Logger } from '../logging.js';
import { pauseTimeoutText } from './notices.js';

/**
 * A scheduled run that paused on a failure (a step exhausted its retries and fallbacks)
 * waits for someone to act; past its pause timeout it is failed, through the store's
 * guarded transitions, and reported so the alert can say so. Nobody watches an unattended
 * run at 3 a.m.: without this it would hold its schedule (overlap) forever.
 */

export interface PauseTimeoutEvent {
  runId: string;
  runNumber: number;
  workflow: string;
  scheduleId: string;
  /** The run's channel (its thread), else the schedule's. */
  channelId: string | null;
  pausedMinutes: number;
  timeoutMinutes: number;
  /** Ready to post: "Run #42 of *release-notes* (scheduled) stayed paused …". */
  text: string;
}

export interface PauseTimeoutDeps {
  schedules: Pick<ScheduleStore, 'timeouts'>;
  store: Pick<RunStore, 'moveRun' | 'moveStep' | 'steps' | 'pausedScheduledRuns'>;
  logger: Logger;
  /** SCHEDULE_PAUSE_TIMEOUT_MINUTES, for schedules that set none; 0 = never. */
  defaultPauseTimeoutMinutes: number;
  report: (event: PauseTimeoutEvent) => Promise<void>;
}

const MINUTE_MS = 60_000;

/**
 * A scheduled run paused (a step exhausted its retries and fallbacks) with nobody acting
 * for longer than its pause timeout is failed. "Acting" includes editing the paused
 * step's card, which moves its updatedAt.
 */
export async function failTimedOutRuns(o: PauseTimeoutDeps, now: Date): Promise<void> {
  const paused = await o.store.pausedScheduledRuns();
  if (paused.length === 0) return;
  const ids = [...new Set(paused.map((r) => r.startedBy.slice('schedule:'.length)))];
  const schedules = new Map((await o.schedules.timeouts(ids)).map((s) => [s.id, s]));
  for (const run of paused) {
    const scheduleId = run.startedBy.slice('schedule:'.length);
    const schedule = schedules.get(scheduleId);
    const timeoutMinutes = schedule?.pauseTimeoutMinutes ?? o.defaultPauseTimeoutMinutes;
    if (timeoutMinutes <= 0) continue;
    const since = Math.max(run.updatedAt.getTime(), ...run.steps.map((s) => s.updatedAt.getTime()));
    const pausedMs = now.getTime() - since;
    if (pausedMs < timeoutMinutes * MINUTE_MS) continue;
    const pausedMinutes = Math.floor(pausedMs / MINUTE_MS);
    await failRun(o, run, scheduleId, schedule?.channelId ?? null, pausedMinutes, timeoutMinutes);
  }
}

async function failRun(
  o: PauseTimeoutDeps,
  run: { id: string; number: number; workflowName: string; channelId: string | null },
  scheduleId: string,
  scheduleChannel: string | null,
  pausedMinutes: number,
  timeoutMinutes: number,
): Promise<void> {
  const actor = `schedule:${scheduleId}`;
  const text = pauseTimeoutText({
    workflow: run.workflowName,
    runNumber: run.number,
    pausedMinutes,
    timeoutMinutes,
  });
  const reason = `Paused for ${pausedMinutes} min with nobody acting (pause timeout ${timeoutMinutes} min).`;
  // Guarded: if someone resumed it meanwhile, or another process failed it, nothing moves.
  const moved = await o.store.moveRun(run.id, 'failed', {
    from: ['paused'],
    actor,
    data: { reason },
    audit: { action: 'run.pause_timeout', fromValue: 'paused', toValue: 'failed' },
  });
  if (!moved) return;
  for (const step of await o.store.steps(run.id)) {
    if (step.status === 'paused') await o.store.moveStep(step, 'failed', { from: ['paused'], actor });
    else if (step.status === 'pending') await o.store.moveStep(step, 'skipped', { from: ['pending'], actor });
  }
  o.logger.info(
    { runId: run.id, scheduleId, pausedMinutes },
    'paused scheduled run failed after its pause timeout',
  );
  const event: PauseTimeoutEvent = {
    runId: run.id,
    runNumber: run.number,
    workflow: run.workflowName,
    scheduleId,
    channelId: run.channelId ?? scheduleChannel,
    pausedMinutes,
    timeoutMinutes,
    text,
  };
  await o.report(event);
}
