import { CronSchedule } from '../core/cron.js';
import type { ScheduleDefinition, WorkflowDefinition } from '../core/workflow-definition.js';
import type { PrismaClient } from './database.js';
import type { Prisma, Schedule } from './generated/client.js';

/**
 * Makes Schedule rows match the `schedules:` of the workflow definitions in the database
 * (which the workflow sync just loaded from the files), in one transaction:
 * - a file schedule is keyed by its workflow and its position in the list;
 * - a new one, or one whose cron or time zone changed, is armed from now: the time before
 *   it existed is not "missed";
 * - one whose entry (or whose workflow's file) is gone is disabled, not deleted, so its
 *   firings stay as history; it comes back armed from now if the entry returns;
 * - schedules made in Slack are never touched, except that while their workflow is
 *   disabled they are disarmed, so its return does not count as missed firings.
 */

export const FILE_SOURCE = 'file';
export const SLACK_SOURCE = 'slack';
// Replicas starting together must not race on (workflowId, position).
const SYNC_LOCK_ID = 72707372;

export interface ScheduleSyncOptions {
  /** SCHEDULE_TIMEZONE, for schedules that name no zone. */
  defaultTimezone: string;
  now: Date;
}

export interface ScheduleSyncSummary {
  created: number;
  updated: number;
  unchanged: number;
  disabled: number;
}

async function syncFileSchedules(
  prisma: PrismaClient,
  options: ScheduleSyncOptions,
): Promise<ScheduleSyncSummary> {
  return prisma.$transaction(
    async (tx) => {
      await tx.$queryRawUnsafe(`SELECT 1 AS locked FROM pg_advisory_xact_lock(${SYNC_LOCK_ID})`);
      const summary: ScheduleSyncSummary = { created: 0, updated: 0, unchanged: 0, disabled: 0 };
      const workflows = await tx.workflow.findMany({
        select: { id: true, enabled: true, definition: true, sourcePath: true },
      });
      for (const workflow of workflows) {
        const existing = await tx.schedule.findMany({
          where: { workflowId: workflow.id, source: FILE_SOURCE },
        });
        const wanted = workflow.enabled
          ? ((workflow.definition as unknown as WorkflowDefinition).schedules ?? [])
          : [];
        const byPosition = new Map(existing.map((row) => [row.position, row]));
        for (const [position, definition] of wanted.entries()) {
          const row = byPosition.get(position);
          const fields = columns(definition, options.defaultTimezone);
          if (!row) {
            await tx.schedule.create({
              data: {
                workflowId: workflow.id,
                source: FILE_SOURCE,
                position,
                ...fields,
                createdBy: `file:${workflow.sourcePath ?? 'workflow file'}`,
                nextFireAt: firstFireAfter(fields, options.now),
              },
            });
            summary.created++;
            continue;
          }
          const rearm = !row.enabled || row.cron !== fields.cron || row.timezone !== fields.timezone;
          if (rearm || differs(row, fields)) {
            await tx.schedule.update({
              where: { id: row.id },
              data: {
                ...fields,
                enabled: true,
                ...(rearm ? { nextFireAt: firstFireAfter(fields, options.now) } : {}),
              },
            });
            summary.updated++;
          } else summary.unchanged++;
        }
        const gone = existing.filter((row) => row.enabled && (row.position ?? 0) >= wanted.length);
        if (gone.length > 0) {
          await tx.schedule.updateMany({
            where: { id: { in: gone.map((row) => row.id) } },
            data: { enabled: false, nextFireAt: null },
          });
          summary.disabled += gone.length;
        }
        if (!workflow.enabled) {
          await tx.schedule.updateMany({
            where: { workflowId: workflow.id, source: { not: FILE_SOURCE } },
            data: { nextFireAt: null },
          });
        }
      }
      return summary;
    },
    { maxWait: 10_000, timeout: 60_000 },
  );
}

type Columns = Pick<
  Schedule,
  'cron' | 'timezone' | 'channelId' | 'input' | 'overlap' | 'missedPolicy' | 'pauseTimeoutMinutes'
>;

function columns(definition: ScheduleDefinition, defaultTimezone: string): Columns {
  return {
    cron: definition.cron,
    timezone: definition.timezone ?? defaultTimezone,
    channelId: definition.channel,
    input: definition.input,
    overlap: definition.overlap,
    missedPolicy: definition.missed,
    pauseTimeoutMinutes: definition.pauseTimeoutMinutes ?? null,
  };
}

function differs(row: Schedule, fields: Columns): boolean {
  return (Object.keys(fields) as (keyof Columns)[]).some((key) => row[key] !== fields[key]);
}

/** The first fire time after `now`; null (armed at the next tick) if it never fires again. */
export function firstFireAfter(schedule: { cron: string; timezone: string }, now: Date): Date | null {
  return new CronSchedule(schedule.cron, schedule.timezone).next(now) ?? null;
}

/** A schedule's row with its workflow's name, as the scheduler and the service read it. */
export type ScheduleRow = Schedule & { workflow: { name: string } };
/** The firing outcomes (ScheduleFiring.outcome). */
export type FiringOutcome =
  | 'started'
  | 'queued'
  | 'skipped_overlap'
  | 'missed_run'
  | 'missed_skipped'
  | 'failed';

/** The new schedule a person made in Slack. */
export type NewSchedule = Pick<
  Schedule,
  | 'workflowId'
  | 'cron'
  | 'timezone'
  | 'channelId'
  | 'input'
  | 'overlap'
  | 'missedPolicy'
  | 'pauseTimeoutMinutes'
  | 'createdBy'
  | 'nextFireAt'
>;

/** An audit row of a schedule change, written with it. */
export interface ScheduleAudit {
  actor: string;
  action: string;
  fromValue: string | null;
  toValue: string | null;
}

const withWorkflow = { workflow: { select: { name: true } } } as const;

/**
 * Schedules and their firings. A firing is claimed by inserting its unique
 * (schedule, fire time) row, so each fire time starts at most one run whichever process
 * gets there first; schedule changes are written with their audit row.
 */
export class ScheduleStore {
  constructor(private readonly prisma: PrismaClient) {}

  /** Makes Schedule rows match the workflow definitions' `schedules:` (see syncFileSchedules). */
  sync(options: ScheduleSyncOptions): Promise<ScheduleSyncSummary> {
    return syncFileSchedules(this.prisma, options);
  }

  // ── the scheduler ───────────────────────────────────────────────────────────

  due(now: Date): Promise<ScheduleRow[]> {
    return this.prisma.schedule.findMany({
      where: { enabled: true, paused: false, nextFireAt: { lte: now }, workflow: { enabled: true } },
      include: withWorkflow,
      orderBy: { nextFireAt: 'asc' },
    });
  }

  /** Active schedules not counting yet (new, resumed, re-enabled). */
  unarmed() {
    return this.prisma.schedule.findMany({
      where: { enabled: true, paused: false, nextFireAt: null, workflow: { enabled: true } },
      select: { id: true, cron: true, timezone: true },
    });
  }

  async arm(scheduleId: string, next: Date): Promise<void> {
    await this.prisma.schedule.updateMany({
      where: { id: scheduleId, nextFireAt: null },
      data: { nextFireAt: next },
    });
  }

  /** Moves nextFireAt forward only: a slower process can never move it back. */
  async advance(scheduleId: string, firedAt: Date | undefined, next: Date | undefined): Promise<void> {
    const stamp = firedAt ? { lastFiredAt: firedAt } : {};
    if (!next) {
      await this.prisma.schedule.updateMany({
        where: { id: scheduleId },
        data: { ...stamp, nextFireAt: null },
      });
      return;
    }
    await this.prisma.schedule.updateMany({
      where: { id: scheduleId, OR: [{ nextFireAt: null }, { nextFireAt: { lt: next } }] },
      data: { ...stamp, nextFireAt: next },
    });
  }

  /** Inserts the firing; its id, or undefined when another process already has it. */
  async claimFiring(firing: {
    scheduleId: string;
    fireAt: Date;
    outcome: FiringOutcome;
    startedAt: Date | null;
    detail: string | null;
  }): Promise<string | undefined> {
    try {
      const row = await this.prisma.scheduleFiring.create({ data: firing, select: { id: true } });
      return row.id;
    } catch (error) {
      if (isUniqueViolation(error)) return undefined;
      throw error;
    }
  }

  /** Missed fire times, recorded as skipped; how many this call recorded (others may have). */
  async recordMissed(scheduleId: string, times: readonly Date[]): Promise<number> {
    const recorded = await this.prisma.scheduleFiring.createMany({
      data: times.map((fireAt) => ({
        scheduleId,
        fireAt,
        outcome: 'missed_skipped' as const,
        detail: 'missed while Switchboard was down',
      })),
      skipDuplicates: true,
    });
    return recorded.count;
  }

  async firingStarted(firingId: string, runId: string): Promise<void> {
    await this.prisma.scheduleFiring.update({ where: { id: firingId }, data: { runId } });
  }

  async firingFailed(firingId: string, detail: string): Promise<void> {
    await this.prisma.scheduleFiring.update({ where: { id: firingId }, data: { outcome: 'failed', detail } });
  }

  async hasWaitingFiring(scheduleId: string): Promise<boolean> {
    const row = await this.prisma.scheduleFiring.findFirst({
      where: { scheduleId, outcome: 'queued', startedAt: null },
      select: { id: true },
    });
    return row !== null;
  }

  /** overlap: queue — firings waiting for their schedule's previous run, oldest first. */
  waitingFirings() {
    return this.prisma.scheduleFiring.findMany({
      where: {
        outcome: 'queued',
        startedAt: null,
        schedule: { enabled: true, paused: false, workflow: { enabled: true } },
      },
      include: { schedule: { include: withWorkflow } },
      orderBy: { fireAt: 'asc' },
    });
  }

  /** Guarded: of several processes seeing a waiting firing free, one starts it. */
  async takeWaitingFiring(firingId: string, now: Date): Promise<boolean> {
    const { count } = await this.prisma.scheduleFiring.updateMany({
      where: { id: firingId, startedAt: null },
      data: { startedAt: now },
    });
    return count === 1;
  }

  /** Pause timeouts and channels of the given schedules. */
  timeouts(ids: readonly string[]) {
    return this.prisma.schedule.findMany({
      where: { id: { in: [...ids] } },
      select: { id: true, pauseTimeoutMinutes: true, channelId: true },
    });
  }

  // ── the service (Slack and the CLI) ─────────────────────────────────────────

  /** A workflow's enabled schedules, to refuse duplicates and count those made in Slack. */
  enabledOf(workflowId: string) {
    return this.prisma.schedule.findMany({
      where: { workflowId, enabled: true },
      select: { number: true, source: true, cron: true, timezone: true, channelId: true, input: true },
    });
  }

  /** A schedule made in Slack, with its audit row. */
  create(schedule: NewSchedule, audit: ScheduleAudit): Promise<ScheduleRow> {
    return this.prisma.$transaction(async (tx) => {
      const row = await tx.schedule.create({
        data: { ...schedule, source: SLACK_SOURCE },
        include: withWorkflow,
      });
      await writeAudit(tx, row, audit);
      return row;
    });
  }

  list(filter: { workflow?: string; channelId?: string; includeDisabled?: boolean }): Promise<ScheduleRow[]> {
    return this.prisma.schedule.findMany({
      where: {
        ...(filter.includeDisabled ? {} : { enabled: true, workflow: { enabled: true } }),
        ...(filter.workflow ? { workflow: { name: filter.workflow } } : {}),
        ...(filter.channelId ? { channelId: filter.channelId } : {}),
      },
      include: withWorkflow,
      orderBy: [{ workflow: { name: 'asc' } }, { number: 'asc' }],
    });
  }

  /** By number or id. */
  find(ref: { number: number } | { id: string }): Promise<ScheduleRow | null> {
    return this.prisma.schedule.findUnique({
      where: 'number' in ref ? { number: ref.number } : { id: ref.id },
      include: withWorkflow,
    });
  }

  /** Pauses or resumes (with the next fire time); false when it already was. */
  setPaused(
    row: ScheduleRow,
    paused: boolean,
    audit: ScheduleAudit,
    nextFireAt?: Date | null,
  ): Promise<boolean> {
    return this.prisma.$transaction(async (tx) => {
      const { count } = await tx.schedule.updateMany({
        where: { id: row.id, paused: !paused },
        data: { paused, ...(nextFireAt === undefined ? {} : { nextFireAt }) },
      });
      if (count === 0) return false;
      await writeAudit(tx, row, audit);
      return true;
    });
  }

  /** Deletes a schedule (its firings go with it; its runs stay), with its audit row. */
  async remove(row: ScheduleRow, audit: ScheduleAudit): Promise<void> {
    await this.prisma.$transaction(async (tx) => {
      await tx.schedule.delete({ where: { id: row.id } });
      await writeAudit(tx, row, audit);
    });
  }
}

async function writeAudit(
  tx: Prisma.TransactionClient,
  row: ScheduleRow,
  audit: ScheduleAudit,
): Promise<void> {
  await tx.auditEvent.create({
    data: {
      workflow: row.workflow.name,
      actor: audit.actor,
      action: audit.action,
      field: `schedule#${row.number}`,
      fromValue: audit.fromValue,
      toValue: audit.toValue,
    },
  });
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string }; message?: string };
  return e?.code === 'P2002' || e?.cause?.code === '23505' || /Unique constraint/i.test(e?.message ?? '');
}
