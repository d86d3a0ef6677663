import { type Clock, nowMs, systemClock } from '../core/clock.js';
import type { Logger } from '../logging.js';
import { SlackCallError } from './publisher.js';

/**
 * Reads a Slack message, or a whole thread, into text a workflow takes as input ("Run a
 * workflow…" on a message). Bounded: at most `maxMessages` messages and `maxChars`
 * characters, else a clear refusal and nothing read beyond the bound. Authors by name
 * (users.info, cached a few minutes), files listed by name, Slack's markup made plain.
 *
 * Slack facts (docs.slack.dev/reference/methods/conversations.replies, conversations.info,
 * users.info): conversations.replies returns the parent first, then the replies oldest first,
 * paginated with `response_metadata.next_cursor`; it needs `channels:history` /
 * `groups:history` / `im:history` / `mpim:history` and the bot in the conversation. A
 * conversation the bot cannot see answers `channel_not_found`; one it is not in,
 * `not_in_channel`.
 */

/** What the reader needs of Slack: the publisher's rate-limited `call`. */
export type SlackRead = (method: string, args: Record<string, unknown>) => Promise<Record<string, unknown>>;

export interface ThreadLimits {
  maxMessages: number;
  maxChars: number;
}

/** Where the bot stands in a conversation. */
export interface ChannelAccess {
  /** Display name for messages: "#incidents", "a direct message". */
  name: string;
  canRead: boolean;
  canPost: boolean;
}

export type ReadRefusal = 'cannot_read' | 'too_many_messages' | 'too_long' | 'not_found';

export type ReadResult =
  | { ok: true; text: string; messages: number }
  | { ok: false; refusal: ReadRefusal; message: string };

interface SlackMessage {
  ts?: unknown;
  text?: unknown;
  user?: unknown;
  username?: unknown;
  bot_id?: unknown;
  bot_profile?: { name?: unknown } | undefined;
  files?: { name?: unknown; title?: unknown }[] | undefined;
  subtype?: unknown;
}

/** Page size for conversations.replies: Slack recommends no more than 200. */
const PAGE = 200;
const NAME_TTL_MS = 10 * 60_000;
const NAME_CACHE_MAX = 2000;

export class ThreadReader {
  private readonly names = new Map<string, { name: string; at: number }>();

  constructor(
    private readonly o: {
      call: SlackRead;
      limits: ThreadLimits;
      logger: Logger;
      clock?: Pick<Clock, 'now'>;
    },
  ) {}

  /**
   * What the bot may do in `channel`. The bot token sees a private channel, a group DM or a
   * DM only when it is in it; it may post in any public channel (chat:write.public) but read
   * only those it is in.
   */
  async access(channel: string): Promise<ChannelAccess | undefined> {
    let info: Record<string, unknown>;
    try {
      info = await this.o.call('conversations.info', { channel });
    } catch (error) {
      if (error instanceof SlackCallError && !error.transient) return undefined;
      throw error;
    }
    const c = (info.channel ?? {}) as {
      name?: unknown;
      is_member?: unknown;
      is_private?: unknown;
      is_im?: unknown;
      is_mpim?: unknown;
    };
    const direct = c.is_im === true || c.is_mpim === true;
    const member = c.is_member === true || c.is_im === true;
    const isPublic = !direct && c.is_private !== true;
    return {
      name: direct ? 'this conversation' : typeof c.name === 'string' ? `#${c.name}` : 'this channel',
      canRead: member,
      canPost: member || isPublic,
    };
  }

  /**
   * One message (`whole: false`) or the whole thread rooted at `root` (`whole: true`), as
   * text. `ts` is the message's own ts; `root` the thread's (the message's own when it has
   * no thread).
   */
  async read(channel: string, at: { ts: string; root: string; whole: boolean }): Promise<ReadResult> {
    const { maxMessages, maxChars } = this.o.limits;
    const messages: SlackMessage[] = [];
    let cursor: string | undefined;
    try {
      do {
        const page = await this.o.call('conversations.replies', {
          channel,
          ts: at.root,
          limit: at.whole ? Math.min(PAGE, maxMessages + 1) : 2,
          ...(at.whole ? {} : { oldest: at.ts, latest: at.ts, inclusive: true }),
          ...(cursor ? { cursor } : {}),
        });
        for (const m of (page.messages as SlackMessage[] | undefined) ?? []) {
          if (at.whole || m.ts === at.ts) messages.push(m);
        }
        if (messages.length > maxMessages) {
          return {
            ok: false,
            refusal: 'too_many_messages',
            message: `This thread has more than ${maxMessages} messages, the most Switchboard reads (SLACK_THREAD_MAX_MESSAGES). Run it on one message, or ask an admin to raise the limit.`,
          };
        }
        const meta = page.response_metadata as { next_cursor?: unknown } | undefined;
        cursor =
          at.whole && page.has_more === true && typeof meta?.next_cursor === 'string' && meta.next_cursor
            ? meta.next_cursor
            : undefined;
      } while (cursor);
    } catch (error) {
      if (error instanceof SlackCallError && !error.transient) {
        if (error.slackError === 'thread_not_found' || error.slackError === 'message_not_found') {
          return { ok: false, refusal: 'not_found', message: 'That message is gone (deleted?).' };
        }
        return {
          ok: false,
          refusal: 'cannot_read',
          message: `Switchboard can't read this conversation (${error.slackError}). Invite it with \`/invite @Switchboard\` and try again.`,
        };
      }
      throw error;
    }
    if (messages.length === 0) {
      return { ok: false, refusal: 'not_found', message: 'That message is gone (deleted?).' };
    }
    const text = await this.transcript(messages, at.whole);
    if (text.length > maxChars) {
      return {
        ok: false,
        refusal: 'too_long',
        message: `This ${at.whole ? 'thread' : 'message'} is ${text.length.toLocaleString('en-US')} characters; the most Switchboard takes is ${maxChars.toLocaleString('en-US')} (SLACK_THREAD_MAX_CHARS). Run it on a shorter part, or ask an admin to raise the limit.`,
      };
    }
    return { ok: true, text, messages: messages.length };
  }

  /** "Alice Smith (2026-11-28 14:02 UTC): text", one block per message, files by name. */
  private async transcript(messages: readonly SlackMessage[], whole: boolean): Promise<string> {
    const authors = await Promise.all(messages.map((m) => this.author(m)));
    const known = new Map<string, string>();
    messages.forEach((m, i) => {
      if (typeof m.user === 'string') known.set(m.user, authors[i]!);
    });
    const blocks = messages.map((m, i) => {
      const head = `${authors[i]}${typeof m.ts === 'string' ? ` (${when(m.ts)})` : ''}:`;
      const body = plainSlackText(typeof m.text === 'string' ? m.text : '', known);
      const files = (m.files ?? [])
        .map((f) => (typeof f.name === 'string' ? f.name : typeof f.title === 'string' ? f.title : undefined))
        .filter((n): n is string => Boolean(n));
      const attached = files.length > 0 ? `\n[files: ${files.join(', ')}]` : '';
      return `${head}${body.includes('\n') ? '\n' : ' '}${body}${attached}`;
    });
    const header = whole
      ? `A Slack thread of ${messages.length} message${messages.length === 1 ? '' : 's'} (the first started it):`
      : 'A Slack message:';
    return `${header}\n\n${blocks.join('\n\n')}`;
  }

  /** Who wrote a message: a person's display name, a bot's name, or the user id if Slack will not say. */
  private async author(m: SlackMessage): Promise<string> {
    if (typeof m.user === 'string' && m.bot_id === undefined) return this.userName(m.user);
    const bot = m.bot_profile?.name ?? m.username;
    if (typeof bot === 'string' && bot) return bot;
    return typeof m.user === 'string' ? this.userName(m.user) : 'a bot';
  }

  async userName(userId: string): Promise<string> {
    const now = nowMs(this.o.clock ?? systemClock);
    const cached = this.names.get(userId);
    if (cached && now - cached.at < NAME_TTL_MS) return cached.name;
    let name = userId;
    try {
      const info = await this.o.call('users.info', { user: userId });
      const user = (info.user ?? {}) as {
        name?: unknown;
        real_name?: unknown;
        profile?: { display_name?: unknown; real_name?: unknown };
      };
      const candidates = [user.profile?.display_name, user.profile?.real_name, user.real_name, user.name];
      name =
        (candidates.find((c) => typeof c === 'string' && c.trim() !== '') as string | undefined) ?? userId;
    } catch (error) {
      // A name is a courtesy: the id reads fine, and the run should not fail for it.
      this.o.logger.debug({ err: (error as Error).message, userId }, 'users.info failed');
      return userId;
    }
    if (this.names.size >= NAME_CACHE_MAX) this.names.delete(this.names.keys().next().value!);
    this.names.set(userId, { name, at: now });
    return name;
  }
}

/** "2026-11-28 14:02 UTC" from a Slack ts (seconds since the epoch). */
function when(ts: string): string {
  const ms = Number(ts) * 1000;
  if (!Number.isFinite(ms)) return ts;
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/**
 * Slack's markup made plain for a model: `<@U123>` → `@Alice` (names already known),
 * `<#C1|general>` → `#general`, `<https://x|label>` → `label (https://x)`, `<https://x>` → the
 * URL, and the three escaped characters back (docs.slack.dev/messaging/formatting-message-text).
 */
export function plainSlackText(text: string, names: ReadonlyMap<string, string> = new Map()): string {
  return text
    .replace(
      /<@([UW][A-Z0-9]+)(?:\|([^>]*))?>/g,
      (_m, id: string, label?: string) => `@${names.get(id) ?? label ?? id}`,
    )
    .replace(/<#([CG][A-Z0-9]+)(?:\|([^>]*))?>/g, (_m, id: string, name?: string) => `#${name || id}`)
    .replace(/<!(here|channel|everyone)>/g, '@$1')
    .replace(/<!subteam\^[A-Z0-9]+(?:\|([^>]*))?>/g, (_m, name?: string) => name ?? '@group')
    .replace(/<((?:https?|mailto):[^|>]+)\|([^>]+)>/g, '$2 ($1)')
    .replace(/<((?:https?|mailto):[^>]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&');
}
