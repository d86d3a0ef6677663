import type { ApprovalPolicy } from '../core/workflow-definition.js';
import type { Logger } from '../logging.js';
import type { Decision, PermissionPolicy, RunAccess } from './permissions.js';
import type { Publisher } from './publisher.js';
import { approversMrkdwn } from './views/index.js';
import { safeMrkdwn } from './views/text.js';

/**
 * Who may decide on a step awaiting approval (docs/control.md, "Approval gates"): the users
 * its gate names, members of its user group (usergroups.users.list, scope usergroups:read),
 * the run's starter and the workflow's owners when the gate says so — owners also once the
 * wait was escalated — and Switchboard admins. SLACK_EDIT_POLICY does not widen this: an
 * approval is a named person's decision, not the channel's.
 */

export async function mayApprove(
  userId: string,
  gate: { policy: ApprovalPolicy | null; escalated: boolean },
  run: Pick<RunAccess, 'number' | 'startedBy' | 'owners'>,
  policy: Pick<PermissionPolicy, 'adminUserIds'>,
  groups: Pick<UsergroupMembers, 'has'>,
  stepName: string,
): Promise<Decision> {
  const p = gate.policy;
  if (policy.adminUserIds.includes(userId)) return { allowed: true, as: 'admin' };
  if (p?.users.includes(userId)) return { allowed: true, as: 'owner' };
  if (p?.starter && run.startedBy === userId) return { allowed: true, as: 'starter' };
  if ((p?.owners || gate.escalated) && run.owners.includes(userId)) return { allowed: true, as: 'owner' };
  if (p?.usergroup) {
    const member = await groups.has(p.usergroup, userId);
    if (member === 'unknown') {
      return {
        allowed: false,
        message: `I could not check who is in <!subteam^${p.usergroup}> (Slack did not answer usergroups.users.list), so nothing was changed. Try again in a minute.`,
      };
    }
    if (member) return { allowed: true, as: 'owner' };
  }
  const who = p
    ? approversMrkdwn({
        users: p.users,
        usergroup: p.usergroup ?? null,
        starter: p.starter ? run.startedBy : null,
        owners: p.owners,
        onTimeout: p.onTimeout,
        escalated: gate.escalated,
      })
    : 'Switchboard admins';
  return {
    allowed: false,
    message: `:lock: Only ${who} (and Switchboard admins) can decide on step *${safeMrkdwn(stepName)}* of run #${run.number}. Nothing was changed.`,
  };
}

/** How long a user group's members are remembered: a click storm costs one call. */
export const USERGROUP_TTL_MS = 60_000;

/** Members of Slack user groups, read through the publisher's rate limits and briefly cached. */
export class UsergroupMembers {
  private readonly cache = new Map<string, { at: number; users: ReadonlySet<string> }>();

  constructor(
    private readonly o: {
      publisher: Pick<Publisher, 'call'>;
      logger: Logger;
      now?: () => number;
    },
  ) {}

  /** true/false, or 'unknown' when Slack could not be asked. */
  async has(usergroup: string, userId: string): Promise<boolean | 'unknown'> {
    const now = (this.o.now ?? Date.now)();
    const cached = this.cache.get(usergroup);
    if (cached && now - cached.at < USERGROUP_TTL_MS) return cached.users.has(userId);
    try {
      // docs.slack.dev/reference/methods/usergroups.users.list: { ok, users: [user ids] }.
      const result = await this.o.publisher.call('usergroups.users.list', { usergroup });
      const users = new Set(
        Array.isArray(result.users) ? result.users.filter((u) => typeof u === 'string') : [],
      );
      this.cache.set(usergroup, { at: now, users });
      return users.has(userId);
    } catch (error) {
      this.o.logger.warn({ usergroup, err: (error as Error).message }, 'usergroups.users.list failed');
      // A group that does not exist (deleted, or a typo in the file) has no members.
      if ((error as { slackError?: string }).slackError === 'no_such_subteam') return false;
      return 'unknown';
    }
  }
}
