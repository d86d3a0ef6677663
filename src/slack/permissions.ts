import type { RunReads } from '../db/run-reads.js';
import { readSnapshot } from '../engine/snapshot.js';
import { starterMrkdwn } from './views/index.js';
import { safeMrkdwn } from './views/text.js';

/**
 * Who may ACT on what (pure rules; visibility.ts applies them with what Slack says, and
 * only to people who may see the run: acting requires seeing).
 *
 * A run (switch a step's model or persona, retry, pause, resume, cancel): the person who
 * started it, the workflow's owners and SLACK_ADMIN_USER_IDS. With SLACK_EDIT_POLICY=channel,
 * the members of the run's channel too — but not people from another organisation in a
 * Slack Connect channel, nor guests: the channel policy trusts the workspace's own members,
 * not everyone a shared channel lets in. A failure alert grants nothing: being in the alert
 * channel is not being in the run's channel.
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
  /** The run's channel (null: started outside Slack). */
  channelId: string | null;
}

/** Who is asking, as Slack says: in the channel concerned, and from outside the workspace or not. */
export interface Actor {
  userId: string;
  /** A member of the run's (or the schedule's) channel. */
  inChannel: boolean;
  /** From another organisation (Slack Connect), a guest, or not known to be neither. */
  outsider: boolean;
}

export type Decision =
  | { allowed: true; as: 'starter' | 'owner' | 'admin' | 'channel' }
  | { allowed: false; message: string };

export function mayActOnRun(actor: Actor, run: RunAccess, policy: PermissionPolicy): Decision {
  if (actor.userId === run.startedBy) return { allowed: true, as: 'starter' };
  if (run.owners.includes(actor.userId)) return { allowed: true, as: 'owner' };
  if (policy.adminUserIds.includes(actor.userId)) return { allowed: true, as: 'admin' };
  if (policy.editPolicy === 'channel' && actor.inChannel && !actor.outsider) {
    return { allowed: true, as: 'channel' };
  }
  const where = policy.editPolicy === 'channel' ? ', members of its channel from this workspace' : '';
  return {
    allowed: false,
    message: `:lock: You can't change run #${run.number}. Only the person who started it (${starterMrkdwn(run.startedBy)})${where}, the workflow's owners and Switchboard admins can. Nothing was changed.`,
  };
}

/** What a permission check needs to know about a run, read from the database. */
export async function runAccess(
  reads: Pick<RunReads, 'runAccess'>,
  runId: string,
): Promise<RunAccess | undefined> {
  const run = await reads.runAccess(runId);
  if (!run) return undefined;
  const definition = readSnapshot(run.snapshot).definition;
  return {
    number: run.number,
    startedBy: run.startedBy,
    owners: [...new Set([...(run.workflow.owners ?? []), ...(definition.owners ?? [])])],
    channelId: run.channelId,
  };
}

// ── definitions and schedules ────────────────────────────────────────────────

const mentions = (ids: readonly string[]) =>
  ids.length > 0 ? ids.slice(0, 5).map(starterMrkdwn).join(', ') : 'none listed';

/**
 * Who may edit a workflow's definition: its owners and Switchboard admins. SLACK_EDIT_POLICY
 * does not apply: a definition belongs to no channel, and an edit changes every future run
 * wherever it starts.
 */
export function mayEditWorkflow(
  userId: string,
  workflow: { name: string; owners: readonly string[] },
  policy: PermissionPolicy,
): Decision {
  if (workflow.owners.includes(userId)) return { allowed: true, as: 'owner' };
  if (policy.adminUserIds.includes(userId)) return { allowed: true, as: 'admin' };
  return {
    allowed: false,
    message: `:lock: You can't edit \`${safeMrkdwn(workflow.name)}\`. Only its owners (${mentions(workflow.owners)}) and Switchboard admins can. Nothing was changed.`,
  };
}

export type ScheduleAction = 'add' | 'pause' | 'resume' | 'remove';

export interface ScheduleTarget {
  workflow: string;
  owners: readonly string[];
  createdBy?: string | undefined;
  /** The channel the schedule posts in (for `add`, the channel it is typed in). */
  channelId: string;
}

/**
 * Who may start a run of a workflow: everyone, unless its file lists `runners:`; then those,
 * its owners and Switchboard admins. Applies wherever a person starts a run in Slack (the
 * slash command, the shortcuts); schedules and the CLI are set up by owners and operators.
 */
export function mayRunWorkflow(
  userId: string,
  workflow: { name: string; owners: readonly string[]; runners: readonly string[] },
  policy: PermissionPolicy,
): Decision {
  if (workflow.runners.length === 0 || workflow.runners.includes(userId))
    return { allowed: true, as: 'starter' };
  if (workflow.owners.includes(userId)) return { allowed: true, as: 'owner' };
  if (policy.adminUserIds.includes(userId)) return { allowed: true, as: 'admin' };
  return {
    allowed: false,
    message: `:lock: You can't run \`${safeMrkdwn(workflow.name)}\`. Only the people its file lists as runners (${mentions(workflow.runners)}), its owners and Switchboard admins can. Nothing was started.`,
  };
}

/**
 * Who may manage a schedule. Adding one: the workflow's owners and admins only, whatever
 * the policy — a schedule spends on every firing with nobody there, so like an edit of the
 * definition it is the owners' call. Pausing, resuming and removing: owners, admins and the
 * person who made it; with SLACK_EDIT_POLICY=channel, members of the schedule's channel from
 * this workspace may also pause and resume it (the brake is within everyone's reach), not
 * remove it.
 */
export function mayManageSchedule(
  actor: Actor,
  target: ScheduleTarget,
  policy: PermissionPolicy,
  action: ScheduleAction,
): Decision {
  if (target.owners.includes(actor.userId)) return { allowed: true, as: 'owner' };
  if (policy.adminUserIds.includes(actor.userId)) return { allowed: true, as: 'admin' };
  if (action !== 'add' && target.createdBy === actor.userId) return { allowed: true, as: 'starter' };
  const channelMayDo = action === 'pause' || action === 'resume';
  if (policy.editPolicy === 'channel' && channelMayDo && actor.inChannel && !actor.outsider) {
    return { allowed: true, as: 'channel' };
  }
  if (action === 'add') {
    return {
      allowed: false,
      message: `:lock: You can't add schedules to \`${safeMrkdwn(target.workflow)}\`. Only its owners (${mentions(target.owners)}) and Switchboard admins can: a schedule runs (and spends) with nobody there. Nothing was changed.`,
    };
  }
  const where =
    policy.editPolicy === 'channel' && channelMayDo ? ', members of its channel from this workspace' : '';
  const creator =
    target.createdBy && !target.createdBy.startsWith('file:') ? ', whoever made the schedule' : '';
  return {
    allowed: false,
    message: `:lock: You can't ${action} schedules of \`${safeMrkdwn(target.workflow)}\`. Only its owners (${mentions(target.owners)})${creator}${where} and Switchboard admins can. Nothing was changed.`,
  };
}

/**
 * Personas are shared by workflows. Adding one: admins and anyone who owns a workflow.
 * Editing one: admins, or someone who owns every workflow using it (an edit changes them
 * all); a persona no workflow uses, anyone who owns a workflow.
 */
export function mayEditPersona(
  userId: string,
  persona: { name: string | null; usedBy: readonly { name: string; owners: readonly string[] }[] },
  ownsAnyWorkflow: boolean,
  policy: PermissionPolicy,
): Decision {
  if (policy.adminUserIds.includes(userId)) return { allowed: true, as: 'admin' };
  const ownsAll =
    persona.usedBy.length > 0 ? persona.usedBy.every((w) => w.owners.includes(userId)) : ownsAnyWorkflow;
  if (ownsAll) return { allowed: true, as: 'owner' };
  const what = persona.name ? `edit persona \`${safeMrkdwn(persona.name)}\`` : 'add personas';
  const who =
    persona.name && persona.usedBy.length > 0
      ? `the owners of every workflow using it (${persona.usedBy
          .slice(0, 5)
          .map((w) => `\`${safeMrkdwn(w.name)}\``)
          .join(', ')})`
      : 'workflow owners';
  return {
    allowed: false,
    message: `:lock: You can't ${what}. Only ${who} and Switchboard admins can. Nothing was changed.`,
  };
}
