import type { PrismaClient } from '../db/database.js';
import { readSnapshot } from '../engine/snapshot.js';
import { starterMrkdwn } from './views/index.js';

/**
 * Who may change a run (switch a step's model or persona, retry, pause, resume, cancel):
 * the person who started it, the workflow's owners and SLACK_ADMIN_USER_IDS. With
 * SLACK_EDIT_POLICY=channel, anyone acting from the run's channel (or from the alert in the
 * team channel) may too: Slack only shows a message, and only delivers a click on it, to
 * members of its channel. Viewing output needs no permission.
 */

export interface PermissionPolicy {
  adminUserIds: readonly string[];
  editPolicy: 'owners' | 'channel';
}

export interface RunAccess {
  number: number;
  startedBy: string;
  /** Workflow owners (the workflow's current list and the run's snapshot of it). */
  owners: readonly string[];
  /** Channels whose members count as "in the channel": the run's, and the alert's. */
  channels: readonly string[];
}

export type Decision =
  | { allowed: true; as: 'starter' | 'owner' | 'admin' | 'channel' }
  | { allowed: false; message: string };

export function mayActOnRun(
  actor: { userId: string; channelId?: string | undefined },
  run: RunAccess,
  policy: PermissionPolicy,
): Decision {
  if (actor.userId === run.startedBy) return { allowed: true, as: 'starter' };
  if (run.owners.includes(actor.userId)) return { allowed: true, as: 'owner' };
  if (policy.adminUserIds.includes(actor.userId)) return { allowed: true, as: 'admin' };
  if (policy.editPolicy === 'channel' && actor.channelId && run.channels.includes(actor.channelId)) {
    return { allowed: true, as: 'channel' };
  }
  const where = policy.editPolicy === 'channel' ? ', people in its channel' : '';
  return {
    allowed: false,
    message: `:lock: You can't change run #${run.number}. Only the person who started it (${starterMrkdwn(run.startedBy)})${where}, the workflow's owners and Switchboard admins can. Nothing was changed.`,
  };
}

/** What a permission check needs to know about a run, read from the database. */
export async function runAccess(prisma: PrismaClient, runId: string): Promise<RunAccess | undefined> {
  const run = await prisma.workflowRun.findUnique({
    where: { id: runId },
    select: {
      number: true,
      startedBy: true,
      channelId: true,
      snapshot: true,
      workflow: { select: { owners: true, notify: true } },
      steps: { select: { alertChannel: true } },
    },
  });
  if (!run) return undefined;
  const definition = readSnapshot(run.snapshot).definition;
  const channels = [run.channelId, ...run.steps.map((s) => s.alertChannel)].filter((c): c is string =>
    Boolean(c),
  );
  return {
    number: run.number,
    startedBy: run.startedBy,
    owners: [...new Set([...(run.workflow.owners ?? []), ...(definition.owners ?? [])])],
    channels: [...new Set(channels)],
  };
}
