import type { RunReads, RunWithSteps } from '../db/run-reads.js';
import type { PersonFacts } from './membership.js';
import {
  type Decision,
  mayActOnRun,
  mayManageSchedule,
  type PermissionPolicy,
  type RunAccess,
  runAccess,
  type ScheduleAction,
  type ScheduleTarget,
} from './permissions.js';

/**
 * Who may SEE a run — its message, input, outputs, errors, step ids, the schedules that
 * start it — written once, here, and applied by every command, view, click and alert:
 *
 * - Switchboard admins (SLACK_ADMIN_USER_IDS) see every run;
 * - everyone else sees the runs of the channels they are members of, as Slack says now
 *   (conversations.members; a direct message's members are its participants);
 * - a run without a channel (started by the CLI or the API) is seen by admins only;
 * - when Slack cannot say (an error, a channel the bot may not read, a rate limit), nothing
 *   is shown: a private channel is never guessed open.
 *
 * Slack shows a channel's messages to its members and to nobody else; Switchboard shows a
 * run to the same people. Who may ACT on a run is a separate rule (permissions.ts) applied
 * on top of this one: acting requires seeing.
 */
export function maySee(
  userId: string,
  channelId: string | null,
  facts: { admin: boolean; members: ReadonlySet<string> | undefined },
): boolean {
  if (facts.admin) return true;
  if (!channelId) return false;
  return facts.members?.has(userId) ?? false;
}

/** How many of the newest runs (or paused runs) a list looks through for the ones someone may see. */
export const SCAN_RUNS = 500;

/** What the rule needs from Slack (membership.ts). */
export interface Directory {
  members(channelId: string): Promise<ReadonlySet<string> | undefined>;
  person(userId: string): Promise<PersonFacts | undefined>;
}

/** The outcome of asking whether someone may act on a run. */
export type ActCheck =
  | { allowed: true; access: RunAccess }
  /** Answer as for a run that does not exist: say nothing about it. */
  | { allowed: false; unseen: true }
  | { allowed: false; unseen: false; message: string };

export class Visibility {
  constructor(
    private readonly o: {
      directory: Directory;
      policy: PermissionPolicy;
      reads: Pick<RunReads, 'runAccess' | 'runChannels' | 'runsWithSteps' | 'recentRuns' | 'pausedRuns'>;
    },
  ) {}

  isAdmin(userId: string): boolean {
    return this.o.policy.adminUserIds.includes(userId);
  }

  /** May `userId` see what belongs to `channelId` (a run, a schedule)? */
  async canSee(userId: string, channelId: string | null): Promise<boolean> {
    if (this.isAdmin(userId)) return true;
    if (!channelId) return false;
    return maySee(userId, channelId, { admin: false, members: await this.o.directory.members(channelId) });
  }

  /** The items `userId` may see, each belonging to the channel `channelOf` names (asked once per channel). */
  async filter<T>(userId: string, items: readonly T[], channelOf: (item: T) => string | null): Promise<T[]> {
    if (this.isAdmin(userId)) return [...items];
    const channels = [...new Set(items.map(channelOf))];
    const seen = new Set<string | null>();
    await Promise.all(
      channels.map(async (channel) => {
        if (await this.canSee(userId, channel)) seen.add(channel);
      }),
    );
    return items.filter((item) => seen.has(channelOf(item)));
  }

  /** The run's facts when `userId` may see it; undefined when it does not exist or they may not. */
  async seenRun(userId: string, runId: string): Promise<RunAccess | undefined> {
    const access = await runAccess(this.o.reads, runId);
    if (!access) return undefined;
    return (await this.canSee(userId, access.channelId)) ? access : undefined;
  }

  /**
   * The newest runs `userId` may see, at most `take`, among the newest SCAN_RUNS: a
   * workspace's runs are read by id and channel first, so Slack is asked only about the
   * channels of recent runs.
   */
  async recentRuns(userId: string, take: number): Promise<RunWithSteps[]> {
    if (this.isAdmin(userId)) return this.o.reads.recentRuns({ take });
    const rows = await this.o.reads.runChannels({ take: SCAN_RUNS });
    const seen = await this.filter(userId, rows, (r) => r.channelId);
    return this.o.reads.runsWithSteps(seen.slice(0, take).map((r) => r.id));
  }

  /** Paused runs `userId` may see, newest first, at most `take`; and how many they may see in all. */
  async pausedRuns(userId: string, take: number): Promise<{ ids: string[]; total: number }> {
    if (this.isAdmin(userId)) return this.o.reads.pausedRuns(take);
    const rows = await this.o.reads.runChannels({ take: SCAN_RUNS, waiting: true });
    const seen = await this.filter(userId, rows, (r) => r.channelId);
    return { ids: seen.slice(0, take).map((r) => r.id), total: seen.length };
  }

  /** May `userId` change the run (SLACK_EDIT_POLICY)? Only ever for a run they can see. */
  async mayAct(userId: string, runId: string): Promise<ActCheck> {
    const access = await this.seenRun(userId, runId);
    if (!access) return { allowed: false, unseen: true };
    const decision = await this.decide(userId, (actor) => mayActOnRun(actor, access, this.o.policy));
    return decision.allowed
      ? { allowed: true, access }
      : { allowed: false, unseen: false, message: decision.message };
  }

  /** May `userId` do `action` to a schedule posting in `target.channelId`? */
  async mayManageSchedule(userId: string, target: ScheduleTarget, action: ScheduleAction): Promise<Decision> {
    return this.decide(
      userId,
      (actor) => mayManageSchedule(actor, target, this.o.policy, action),
      target.channelId,
    );
  }

  /**
   * Runs a pure rule, first as if `userId` were an outsider (no Slack call needed when the
   * rule allows them anyway: starter, owner, admin), then, if the channel policy could
   * still let them in, with what Slack says about where they come from.
   */
  private async decide(
    userId: string,
    rule: (actor: { userId: string; inChannel: boolean; outsider: boolean }) => Decision,
    channelId?: string,
  ): Promise<Decision> {
    // For a run, seeing it already means being in its channel (or an admin).
    const inChannel = channelId === undefined ? true : await this.canSee(userId, channelId);
    const first = rule({ userId, inChannel, outsider: true });
    if (first.allowed || this.o.policy.editPolicy !== 'channel' || !inChannel) return first;
    const person = await this.o.directory.person(userId);
    // Unknown origin counts as outside: Slack Connect members and guests get no channel rights.
    const outsider = !person || person.external || person.guest;
    return outsider ? first : rule({ userId, inChannel, outsider: false });
  }
}
