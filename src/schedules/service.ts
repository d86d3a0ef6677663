import { type Clock, systemClock } from '../core/clock.js';
import { CronSchedule, cronProblem } from '../core/cron.js';
import { nearest } from '../core/suggest.js';
import { formatLocal, normalizeTimezone, timezoneProblem } from '../core/timezone.js';
import { FILE_SOURCE, type ScheduleRow, type ScheduleStore, SLACK_SOURCE } from '../db/schedule-store.js';
import type { WorkflowStore } from '../db/workflow-store.js';

/**
 * What people do to schedules from Slack: `/workflow schedule add|list|pause|resume|remove`.
 * One function per command; the Slack layer parses the command, checks who may act, calls
 * one of these and shows the result or the error's message (written for the user).
 */

export type ScheduleErrorCode =
  | 'invalid_cron'
  | 'invalid_timezone'
  | 'invalid_channel'
  | 'invalid_input'
  | 'unknown_workflow'
  | 'workflow_disabled'
  | 'duplicate'
  | 'too_many'
  | 'too_often'
  | 'not_found'
  | 'declared_in_file'
  | 'unchanged';

export class ScheduleError extends Error {
  override name = 'ScheduleError';
  constructor(
    readonly code: ScheduleErrorCode,
    message: string,
    readonly suggestions: string[] = [],
  ) {
    super(message);
  }

  static isInstance(value: unknown): value is ScheduleError {
    return value instanceof ScheduleError;
  }
}

export interface AddScheduleRequest {
  workflow: string;
  cron: string;
  /** IANA zone; unset → SCHEDULE_TIMEZONE. */
  timezone?: string | undefined;
  input?: string | undefined;
  /** Where the runs are posted: the channel the command was typed in. */
  channelId: string;
  /** Slack user id. */
  createdBy: string;
  overlap?: 'skip' | 'queue' | undefined;
  missed?: 'run_once' | 'skip' | undefined;
  pauseTimeoutMinutes?: number | undefined;
}

export interface ScheduleView {
  id: string;
  /** What people type: `/workflow schedule pause 3`. */
  number: number;
  workflow: string;
  source: 'file' | 'slack';
  cron: string;
  timezone: string;
  channelId: string;
  input: string;
  overlap: 'skip' | 'queue';
  missedPolicy: 'run_once' | 'skip';
  pauseTimeoutMinutes: number | null;
  paused: boolean;
  enabled: boolean;
  /** Slack user id, or "file:<path>". */
  createdBy: string;
  lastFiredAt: Date | null;
  /** Null while paused or disabled. */
  nextFireAt: Date | null;
  /** nextFireAt on the schedule's own clock, e.g. "Mon, 2 Mar 2026, 09:00 UTC+1". */
  nextFireLocal: string | null;
}

export const MAX_SLACK_SCHEDULES_PER_WORKFLOW = 20;
export const MAX_SCHEDULE_INPUT = 10_000;
// Public (C), private (G) or direct-message (D) channel ids.
const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

export interface ScheduleServiceOptions {
  schedules: ScheduleStore;
  workflows: Pick<WorkflowStore, 'facts' | 'names'>;
  /** SCHEDULE_TIMEZONE. */
  defaultTimezone: string;
  /** SCHEDULE_MIN_INTERVAL_MINUTES: the shortest time between two firings of a schedule made here. */
  minIntervalMinutes?: number | undefined;
  clock?: Pick<Clock, 'now'>;
}

/** The refusal for a schedule that does not exist (or that the asker may not see: the same words). */
export function unknownSchedule(ref: string): ScheduleError {
  return new ScheduleError('not_found', `No schedule ${ref}. \`/workflow schedule list\` shows them.`);
}

type Row = ScheduleRow;

export class ScheduleService {
  private readonly clock: Pick<Clock, 'now'>;

  constructor(private readonly o: ScheduleServiceOptions) {
    this.clock = o.clock ?? systemClock;
  }

  async addSchedule(request: AddScheduleRequest): Promise<ScheduleView> {
    const cron = request.cron.trim();
    const cronError = cronProblem(cron);
    if (cronError) throw new ScheduleError('invalid_cron', `Invalid cron expression: ${cronError}.`);
    const timezone = normalizeTimezone(request.timezone ?? this.o.defaultTimezone);
    if (timezone === undefined) {
      throw new ScheduleError(
        'invalid_timezone',
        `${capitalize(timezoneProblem(request.timezone ?? '') ?? '')}.`,
      );
    }
    if (!CHANNEL_ID.test(request.channelId)) {
      throw new ScheduleError(
        'invalid_channel',
        `"${request.channelId}" is not a Slack channel id (e.g. C0DIGEST).`,
      );
    }
    const input = request.input ?? '';
    if (input.length > MAX_SCHEDULE_INPUT) {
      throw new ScheduleError(
        'invalid_input',
        `The input is ${input.length} characters; a schedule's input can be at most ${MAX_SCHEDULE_INPUT}.`,
      );
    }
    if (request.pauseTimeoutMinutes !== undefined && !(request.pauseTimeoutMinutes >= 0)) {
      throw new ScheduleError('invalid_input', 'The pause timeout must be 0 (never) or more minutes.');
    }
    const now = this.clock.now();
    const schedule = new CronSchedule(cron, timezone);
    const next = schedule.next(now);
    if (!next) throw new ScheduleError('invalid_cron', `\`${cron}\` never fires again.`);
    const floor = this.o.minIntervalMinutes ?? 0;
    const gap = schedule.shortestGapMinutes();
    if (floor > 0 && gap < floor) {
      throw new ScheduleError(
        'too_often',
        `\`${cron}\` can fire ${gap === 1 ? 'every minute' : `${gap} minutes apart`}; schedules made in Slack fire at most every ${floor} minute${floor === 1 ? '' : 's'} (SCHEDULE_MIN_INTERVAL_MINUTES). Pick a slower one, e.g. \`*/${Math.max(floor, 15)} * * * *\`.`,
      );
    }

    const workflow = await this.findWorkflow(request.workflow);
    const existing = await this.o.schedules.enabledOf(workflow.id);
    const same = existing.find(
      (s) =>
        s.cron === cron && s.timezone === timezone && s.channelId === request.channelId && s.input === input,
    );
    if (same) throw new ScheduleError('duplicate', `That schedule already exists: #${same.number}.`);
    if (existing.filter((s) => s.source === SLACK_SOURCE).length >= MAX_SLACK_SCHEDULES_PER_WORKFLOW) {
      throw new ScheduleError(
        'too_many',
        `*${workflow.name}* already has ${MAX_SLACK_SCHEDULES_PER_WORKFLOW} schedules made in Slack; remove one first.`,
      );
    }
    const row = await this.o.schedules.create(
      {
        workflowId: workflow.id,
        cron,
        timezone,
        channelId: request.channelId,
        input,
        overlap: request.overlap ?? 'skip',
        missedPolicy: request.missed ?? 'run_once',
        pauseTimeoutMinutes: request.pauseTimeoutMinutes ?? null,
        createdBy: request.createdBy,
        nextFireAt: next,
      },
      { actor: request.createdBy, action: 'schedule.add', fromValue: null, toValue: `${cron} ${timezone}` },
    );
    return this.view(row, now);
  }

  /** Schedules by workflow and number, with their next fire time; disabled ones only when asked. */
  async listSchedules(
    filter: { workflow?: string; channelId?: string; includeDisabled?: boolean } = {},
  ): Promise<ScheduleView[]> {
    const rows = await this.o.schedules.list(filter);
    const now = this.clock.now();
    return rows.map((row) => this.view(row, now));
  }

  /** A schedule by number ("3", "#3") or id. */
  async getSchedule(ref: string): Promise<ScheduleView> {
    return this.view(await this.find(ref), this.clock.now());
  }

  async pauseSchedule(ref: string, actor: string): Promise<ScheduleView> {
    const row = await this.find(ref);
    const paused = await this.o.schedules.setPaused(row, true, {
      actor,
      action: 'schedule.pause',
      fromValue: 'active',
      toValue: 'paused',
    });
    if (!paused) throw new ScheduleError('unchanged', `Schedule #${row.number} is already paused.`);
    return this.getSchedule(row.id);
  }

  /** Firings that fell in the pause are not "missed": the schedule counts again from now. */
  async resumeSchedule(ref: string, actor: string): Promise<ScheduleView> {
    const row = await this.find(ref);
    const next = new CronSchedule(row.cron, row.timezone).next(this.clock.now()) ?? null;
    const resumed = await this.o.schedules.setPaused(
      row,
      false,
      { actor, action: 'schedule.resume', fromValue: 'paused', toValue: 'active' },
      next,
    );
    if (!resumed) throw new ScheduleError('unchanged', `Schedule #${row.number} is not paused.`);
    return this.getSchedule(row.id);
  }

  /** Deletes a schedule made in Slack (its firings go with it; its runs stay). */
  async removeSchedule(ref: string, actor: string): Promise<ScheduleView> {
    const row = await this.find(ref);
    if (row.source === FILE_SOURCE) {
      const file = row.createdBy.startsWith('file:')
        ? row.createdBy.slice('file:'.length)
        : 'its workflow file';
      throw new ScheduleError(
        'declared_in_file',
        `Schedule #${row.number} is declared in ${file} (schedules[${row.position ?? 0}]): remove it there, or pause it here.`,
      );
    }
    const view = this.view(row, this.clock.now());
    await this.o.schedules.remove(row, {
      actor,
      action: 'schedule.remove',
      fromValue: `${row.cron} ${row.timezone}`,
      toValue: null,
    });
    return { ...view, nextFireAt: null, nextFireLocal: null };
  }

  private async find(ref: string): Promise<Row> {
    const trimmed = ref.trim().replace(/^#/, '');
    const row = await this.o.schedules.find(
      /^\d+$/.test(trimmed) ? { number: Number(trimmed) } : { id: trimmed },
    );
    if (!row?.enabled) throw unknownSchedule(ref);
    return row;
  }

  private async findWorkflow(name: string) {
    const workflow = await this.o.workflows.facts({ name });
    if (workflow?.enabled) return workflow;
    if (workflow) {
      throw new ScheduleError('workflow_disabled', `Workflow \`${name}\` is disabled: its file was removed.`);
    }
    const names = await this.o.workflows.names();
    const guess = nearest(name, names);
    throw new ScheduleError(
      'unknown_workflow',
      `No workflow named \`${name}\`.${guess ? ` Did you mean \`${guess}\`?` : ''}`,
      guess ? [guess] : names.slice(0, 5),
    );
  }

  private view(row: Row, now: Date): ScheduleView {
    const active = row.enabled && !row.paused;
    const next = active
      ? row.nextFireAt && row.nextFireAt > now
        ? row.nextFireAt
        : (new CronSchedule(row.cron, row.timezone).next(now) ?? null)
      : null;
    return {
      id: row.id,
      number: row.number,
      workflow: row.workflow.name,
      source: row.source === FILE_SOURCE ? 'file' : 'slack',
      cron: row.cron,
      timezone: row.timezone,
      channelId: row.channelId,
      input: row.input,
      overlap: row.overlap,
      missedPolicy: row.missedPolicy,
      pauseTimeoutMinutes: row.pauseTimeoutMinutes,
      paused: row.paused,
      enabled: row.enabled,
      createdBy: row.createdBy,
      lastFiredAt: row.lastFiredAt,
      nextFireAt: next,
      nextFireLocal: next ? formatLocal(next, row.timezone) : null,
    };
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}
