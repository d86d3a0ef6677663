import { BoundedMap } from '../core/bounded-map.js';
import { type Clock, nowMs, systemClock } from '../core/clock.js';
import type { Logger } from '../logging.js';
import { classify, type SlackCaller } from './publisher.js';

/**
 * What Slack says about channels and people, read through the Web API and remembered for a
 * short while (SLACK_MEMBERSHIP_TTL_SECONDS): who is in a channel (conversations.members,
 * every page), whether a channel is private (conversations.info), and whether a person
 * belongs to the workspace the app is installed in (users.info against auth.test).
 *
 * Slack is the authority: a channel's members are forgotten at once when Slack reports
 * someone joining or leaving it (member_joined_channel / member_left_channel), and in any
 * case after the TTL. When Slack cannot say — an error, a channel the bot may not read
 * (channel_not_found, not_in_channel), a rate limit — the answer is `undefined`, and the
 * callers show nothing private. Lookups never wait out a 429: an answer a person is waiting
 * for is better refused than late, and the next lookup after Retry-After asks again.
 *
 * Scopes: channels:read, groups:read, im:read and mpim:read (members and privacy of public,
 * private, direct and group-direct conversations), users:read (a person's team).
 */

export interface ChannelFacts {
  members: ReadonlySet<string>;
}

export interface PersonFacts {
  /** From another organisation (Slack Connect): their team is not the one the app is installed in. */
  external: boolean;
  /** A single- or multi-channel guest of this workspace. */
  guest: boolean;
}

export interface DirectoryOptions {
  client: SlackCaller;
  /** How long an answer from Slack is trusted. */
  ttlMs: number;
  logger: Logger;
  clock?: Pick<Clock, 'now'> | undefined;
  /** Told about every Web API call (metrics). */
  observer?: { onCall?(method: string): void; onRateLimited?(method: string): void } | undefined;
  /** Pages of conversations.members read at most (1000 members each); beyond: Slack cannot say. */
  maxPages?: number | undefined;
}

/** Slack's largest page for conversations.members. */
const PAGE = 1000;
/** A failed lookup is asked again after this long (or Retry-After), not after the full TTL. */
const FAILURE_TTL_MS = 5_000;
/** Channels and people remembered at once. */
const MAX_REMEMBERED = 5_000;

type Lookup<T> = { value: T | undefined };

export class SlackDirectory {
  private readonly channels: BoundedMap<string, Lookup<ChannelFacts>>;
  private readonly privacy: BoundedMap<string, Lookup<boolean>>;
  private readonly people: BoundedMap<string, Lookup<PersonFacts>>;
  /** Failed lookups, until when they are not asked again. */
  private readonly failures: BoundedMap<string, number>;
  private readonly pending = new Map<string, Promise<unknown>>();
  private installed: Promise<{ team: string; enterprise: string | undefined } | undefined> | undefined;
  /** Bumped by forget(): a lookup that started before an invalidation must not be remembered. */
  private generation = 0;

  constructor(private readonly o: DirectoryOptions) {
    const cache = { max: MAX_REMEMBERED, ttlMs: o.ttlMs, clock: o.clock };
    this.channels = new BoundedMap(cache);
    this.privacy = new BoundedMap(cache);
    this.people = new BoundedMap(cache);
    this.failures = new BoundedMap({ max: MAX_REMEMBERED, clock: o.clock });
  }

  /** The channel's members, or undefined when Slack cannot say. */
  members(channelId: string): Promise<ReadonlySet<string> | undefined> {
    return this.remembered(this.channels, `members:${channelId}`, channelId, async () => ({
      members: await this.readMembers(channelId),
    })).then((facts) => facts?.members);
  }

  /**
   * True for a private channel, a direct message or a group DM — and when Slack cannot say:
   * what is not known to be public is treated as private.
   */
  async isPrivate(channelId: string): Promise<boolean> {
    // D… is a direct message; G… a private channel or a group DM (older workspaces).
    if (/^[DG]/.test(channelId)) return true;
    const known = await this.remembered(this.privacy, `info:${channelId}`, channelId, async () => {
      const info = await this.call('conversations.info', { channel: channelId });
      const channel = (info.channel ?? {}) as Record<string, unknown>;
      return Boolean(channel.is_private || channel.is_im || channel.is_mpim || channel.is_group);
    });
    return known ?? true;
  }

  /** Where a person comes from, or undefined when Slack cannot say. */
  async person(userId: string): Promise<PersonFacts | undefined> {
    const home = await this.home();
    if (!home) return undefined;
    return this.remembered(this.people, `user:${userId}`, userId, async () => {
      const { user } = (await this.call('users.info', { user: userId })) as {
        user?: Record<string, unknown>;
      };
      if (!user) throw new Error('users.info returned no user');
      const enterprise = (user.enterprise_user as { enterprise_id?: unknown } | undefined)?.enterprise_id;
      const sameTeam = user.team_id === home.team;
      // An Enterprise Grid org is one organisation: its other workspaces' people are not external.
      const sameOrg = home.enterprise !== undefined && enterprise === home.enterprise;
      return {
        external: !(sameTeam || sameOrg),
        guest: Boolean(user.is_restricted || user.is_ultra_restricted),
      };
    });
  }

  /** Someone joined or left the channel (an event from Slack): read its members again next time. */
  forget(channelId: string): void {
    this.generation += 1;
    this.channels.delete(channelId);
    this.privacy.delete(channelId);
    this.failures.delete(`members:${channelId}`);
    this.failures.delete(`info:${channelId}`);
  }

  /** Forgets everything Slack said (a workspace whose people all changed: the tests' reset). */
  forgetAll(): void {
    this.generation += 1;
    this.channels.clear();
    this.privacy.clear();
    this.people.clear();
    this.failures.clear();
  }

  /** The team (and Enterprise Grid org) the app is installed in, from auth.test, asked once. */
  private home() {
    this.installed ??= this.call('auth.test', {})
      .then((auth) => ({
        team: String(auth.team_id ?? ''),
        enterprise:
          typeof auth.enterprise_id === 'string' && auth.enterprise_id ? auth.enterprise_id : undefined,
      }))
      .catch((error: unknown) => {
        this.installed = undefined; // asked again next time
        this.o.logger.warn({ err: (error as Error).message }, 'auth.test failed: people count as outsiders');
        return undefined;
      });
    return this.installed;
  }

  /**
   * The remembered answer for `id` in `cache`, else one lookup shared by everyone asking at
   * once. A failure is remembered as "cannot say" for a few seconds (or Retry-After).
   */
  private async remembered<T>(
    cache: BoundedMap<string, Lookup<T>>,
    key: string,
    id: string,
    read: () => Promise<T>,
  ): Promise<T | undefined> {
    const hit = cache.get(id);
    if (hit) return hit.value;
    const failedUntil = this.failures.get(key);
    if (failedUntil !== undefined && this.now() < failedUntil) return undefined;
    const running = this.pending.get(key) as Promise<T | undefined> | undefined;
    if (running) return running;
    const generation = this.generation;
    const lookup = read()
      .then((value) => {
        // Someone joined or left while Slack answered: the answer may predate it; use it once.
        if (generation === this.generation) cache.set(id, { value });
        this.failures.delete(key);
        return value as T | undefined;
      })
      .catch((error: unknown) => {
        const failure = classify(key, error);
        const wait = Math.max(failure.retryAfterMs ?? 0, Math.min(this.o.ttlMs, FAILURE_TTL_MS));
        this.failures.set(key, this.now() + wait);
        this.o.logger.warn(
          { lookup: key, error: failure.slackError },
          'Slack could not say; showing nothing private',
        );
        return undefined;
      })
      .finally(() => this.pending.delete(key));
    this.pending.set(key, lookup);
    return lookup;
  }

  private async readMembers(channelId: string): Promise<Set<string>> {
    const members = new Set<string>();
    let cursor: string | undefined;
    for (let page = 0; page < (this.o.maxPages ?? 50); page++) {
      const result = await this.call('conversations.members', {
        channel: channelId,
        limit: PAGE,
        ...(cursor ? { cursor } : {}),
      });
      for (const id of (result.members as unknown[] | undefined) ?? [])
        if (typeof id === 'string') members.add(id);
      cursor = (result.response_metadata as { next_cursor?: string } | undefined)?.next_cursor || undefined;
      if (!cursor) return members;
    }
    throw new Error(`more than ${(this.o.maxPages ?? 50) * PAGE} members`);
  }

  /** One Web API call; `ok: false` (from a client that does not throw on it) is an error too. */
  private async call(method: string, args: Record<string, unknown>): Promise<Record<string, unknown>> {
    this.o.observer?.onCall?.(method);
    try {
      const result = await this.o.client.apiCall(method, args);
      if (result.ok === false) {
        throw Object.assign(new Error(`${method}: ${String(result.error)}`), {
          code: 'slack_webapi_platform_error',
          data: result,
        });
      }
      return result;
    } catch (error) {
      if ((error as { code?: string }).code === 'slack_webapi_rate_limited_error')
        this.o.observer?.onRateLimited?.(method);
      throw error;
    }
  }

  private now(): number {
    return nowMs(this.o.clock ?? systemClock);
  }
}
