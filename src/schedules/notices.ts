import { safeMrkdwn } from '../core/mrkdwn.js';
import { formatLocal } from '../core/timezone.js';
import type { FiringOutcome } from '../db/schedule-store.js';

/**
 * What the channel is told about a schedule, as mrkdwn text (pure functions). Workflow
 * names are slugs and cron expressions cannot hold a backtick, so neither can break out of
 * its formatting. A run's start error may quote anything (a workflow's input, a provider's
 * words): it goes in escaped, so it cannot mention, broadcast or link.
 */

export interface ScheduleFacts {
  workflow: string;
  cron: string;
  timezone: string;
}

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export function describeSchedule(s: ScheduleFacts): string {
  return `*${s.workflow}* (\`${s.cron}\`, ${s.timezone})`;
}

export interface MissedNotice extends ScheduleFacts {
  /** How many firings were missed (a lower bound when `atLeast`). */
  missed: number;
  atLeast: boolean;
  /** The latest missed fire time. */
  lastMissed: Date;
  /** What happened to the firing this tick handled ("started": it was on time, after the missed ones). */
  outcome: FiringOutcome;
  runNumber?: number | undefined;
  /** The run that blocked it (overlap). */
  activeRun?: { number: number; status: string } | undefined;
  nextFireAt?: Date | null | undefined;
  error?: string | undefined;
}

/** "Missed 3 firings of *release-notes* (…) while Switchboard was down; ran it once now (run #42)." */
export function missedNotice(n: MissedNotice): string {
  const count = `${n.atLeast ? 'more than ' : ''}${plural(n.missed, 'firing')}`;
  const head = `Missed ${count} of ${describeSchedule(n)} while Switchboard was down (last: ${formatLocal(n.lastMissed, n.timezone)})`;
  return `${head}; ${whatHappened(n)}`;
}

function whatHappened(n: MissedNotice): string {
  const blocker = n.activeRun
    ? `run #${n.activeRun.number} is still ${n.activeRun.status}`
    : 'a run is active';
  switch (n.outcome) {
    case 'started':
      return `this firing runs as usual${n.runNumber ? ` (run #${n.runNumber})` : ''}.`;
    case 'missed_run':
      return `ran it once now${n.runNumber ? ` (run #${n.runNumber})` : ''}.`;
    case 'skipped_overlap':
      return `did not run it now because ${blocker} (overlap: skip).`;
    case 'queued':
      return `it will run once run ${n.activeRun ? `#${n.activeRun.number}` : 'in progress'} ends (overlap: queue).`;
    case 'missed_skipped':
      return `not run (missed: skip).${n.nextFireAt ? ` Next: ${formatLocal(n.nextFireAt, n.timezone)}.` : ''}`;
    case 'failed':
      return `could not start a run: ${safeMrkdwn(n.error ?? 'unknown error')}`;
  }
}

export function startFailedNotice(s: ScheduleFacts, fireAt: Date, error: string): string {
  return `The ${formatLocal(fireAt, s.timezone)} firing of ${describeSchedule(s)} could not start a run: ${safeMrkdwn(error)}`;
}

export function pauseTimeoutText(p: {
  workflow: string;
  runNumber: number;
  pausedMinutes: number;
  timeoutMinutes: number;
}): string {
  return `Run #${p.runNumber} of *${p.workflow}* (scheduled) stayed paused for ${plural(p.pausedMinutes, 'minute')} with nobody acting, so it was marked failed (pause timeout: ${plural(p.timeoutMinutes, 'minute')}).`;
}
