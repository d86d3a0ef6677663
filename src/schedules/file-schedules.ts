import { CronSchedule } from '../core/cron.js';
import type { PrismaClient } from '../db/database.js';
import type { Schedule } from '../db/generated/client.js';
import type { ScheduleDefinition, WorkflowDefinition } from '../workflows/definition.js';

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

export async function syncFileSchedules(
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
