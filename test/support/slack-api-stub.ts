import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MethodLimit } from './slack-api-limits.js';
import { attachSocketModeStub, type SocketModeStub } from './slack-socket-stub.js';

/**
 * A local stand-in for the Slack Web API (reached through SLACK_API_URL), for response_url
 * endpoints and for Socket Mode (apps.connections.open and the WebSocket it points to:
 * slack-socket-stub.ts), used by the tests and by the bench. It answers like Slack —
 * `{ ok: true, … }` with HTTP 200, errors as `{ ok: false, error }`, rate limits as HTTP
 * 429 with Retry-After in seconds — and records every call. It keeps each message's current
 * content, as a Slack client would show it after posts and edits, and every state it had
 * with the time it arrived, so the bench can tell when a card first showed a state. Given
 * `limits` (slack-api-limits.ts), it enforces Slack's rate limits and counts the 429s.
 *
 * Loaded by bench/ too: it imports nothing of the test runner's.
 */

export interface StubCall {
  method: string;
  body: Record<string, unknown>;
  /** The Bearer token it carried (xoxb- for the bot, xapp- for apps.connections.open). */
  token: string | undefined;
  at: number;
}

export interface StubResponse {
  /** The id in /response/<id>. */
  id: string;
  body: Record<string, unknown>;
  at: number;
}

/** What a message showed from the moment `at` (ms) when a post or an edit arrived. */
export interface MessageState {
  at: number;
  text: string;
  blocks: unknown[];
}

export interface StubMessage {
  channel: string;
  ts: string;
  threadTs: string | undefined;
  text: string;
  blocks: unknown[];
  /** How many times it was edited. */
  edits: number;
  /** Every state it had, oldest first; the last is `text` and `blocks`. */
  states: MessageState[];
  /** Who wrote it: a person (`user`) or, for the bot's own posts, nobody here. */
  user?: string | undefined;
  /** Files attached, by name. */
  files?: { name: string }[] | undefined;
  /** Another app's post: its bot's name. */
  botName?: string | undefined;
  /**
   * A message started with chat.startStream: true while it takes appends, false once stopped
   * (chat.stopStream); undefined for an ordinary message.
   */
  streaming?: boolean | undefined;
  /** A streamed message's task and plan chunks, in arrival order. */
  tasks?: Record<string, unknown>[] | undefined;
  /** Who a streamed message in a channel was addressed to (recipient_user_id). */
  recipient?: string | undefined;
}

/** A conversation as conversations.info describes it (docs.slack.dev/reference/methods/conversations.info). */
export interface StubConversation {
  name: string;
  isPrivate?: boolean;
  isIm?: boolean;
  isMpim?: boolean;
  /** Whether the bot is in it; a private conversation it is not in is invisible to it. */
  isMember?: boolean;
}

/**
 * A Workflow Builder step running one of the app's functions: Slack waits for
 * functions.completeSuccess or functions.completeError, made with the token it sent in the
 * function_executed event (docs.slack.dev/reference/methods/functions.completeSuccess).
 */
export interface StubFunctionExecution {
  token: string;
  state: 'running' | 'completed' | 'failed';
  /** Output parameters the function declares as required (parameter_validation_failed without them). */
  requiredOutputs: string[];
  outputs?: Record<string, unknown>;
  error?: string;
}

export interface StubCounts {
  /** Web API calls received per method, 429s included. */
  calls: Record<string, number>;
  /** Calls answered 429 per method. */
  rateLimited: Record<string, number>;
  /** response_url posts. */
  responses: number;
}

export interface SlackApiStubOptions {
  /** Slack's rate limits to enforce (`slackLimits()`); none unless given. */
  limits?: Record<string, MethodLimit>;
}

/** The workspace the app is installed in (auth.test), and its bot user. */
export const TEAM_ID = 'T0TEST';
export const BOT_USER_ID = 'U0BOT';

/** A conversation the test declares: who is in it, what kind it is, whether the bot is in it. */
export interface StubChannel {
  kind: 'public' | 'private' | 'im' | 'mpim';
  members: string[];
  /** Is the bot a member? (A private channel, DM or group DM it is not in cannot be read.) Default true. */
  botIsMember?: boolean;
  /** Shared with another organisation (Slack Connect). */
  shared?: boolean;
}

/** A person the test declares (anyone else is a full member of TEAM_ID, named after their id). */
export interface StubUser {
  name?: string;
  realName?: string;
  displayName?: string;
  teamId?: string;
  enterpriseId?: string;
  /** A multi-channel (restricted) or single-channel (ultra_restricted) guest. */
  guest?: 'restricted' | 'ultra_restricted';
}

type Override =
  | { kind: 'ratelimit'; retryAfterSeconds: number }
  | { kind: 'error'; error: string }
  /** An HTTP error such as Slack's own 500/503 during an incident. */
  | { kind: 'status'; status: number }
  | { kind: 'hang' };

export interface SlackApiStub {
  /** Base URL for SLACK_API_URL, e.g. http://127.0.0.1:5000/api/ */
  apiUrl: string;
  calls: StubCall[];
  responses: StubResponse[];
  /** Current content per `${channel}:${ts}`. */
  messages: Map<string, StubMessage>;
  /** Views opened, pushed or updated, by view id (current content, with `id`). */
  views: Map<string, Record<string, unknown> & { id: string }>;
  /** Raw bodies of file uploads (files.uploadV2 step 2), by file id. */
  uploads: Map<string, string>;
  /** Socket Mode: the connections, the envelopes sent and their acks. */
  socket: SocketModeStub;
  /**
   * Conversations conversations.info and conversations.replies know. One not listed here is
   * a public channel the bot is in, named "general".
   */
  conversations: Map<string, StubConversation>;
  /** People users.info knows (and user() declares); another well-formed id is a full member named after it. */
  users: Map<string, StubUser>;
  /** Function executions by function_execution_id (Fx…): register one before sending its event. */
  functionExecutions: Map<string, StubFunctionExecution>;
  /** Someone (not the bot) posts in `channel`, in the thread of `threadTs` if given; returns its ts. */
  post(
    channel: string,
    message: {
      user?: string;
      text: string;
      threadTs?: string;
      files?: { name: string }[];
      botName?: string;
    },
  ): string;
  /** User groups by id (S…) and their members, for usergroups.users.list. */
  usergroups: Map<string, string[]>;
  /**
   * The workspace's people and conversations. A conversation not declared with `channel()`
   * is a public channel every person the stub has met (`meet()`) is in; `D0<user id>` is that
   * person's DM with the bot. Declared ones answer as Slack does: members page by page
   * (`limit`, `response_metadata.next_cursor`), `channel_not_found` for a private one the bot
   * is not in.
   */
  channel(id: string, channel: StubChannel): void;
  /** Someone joins or leaves a declared (or an open) channel. */
  join(channel: string, user: string): void;
  leave(channel: string, user: string): void;
  /** Declares a person's team or guest status (users.info). */
  user(id: string, user: StubUser): void;
  /** The people of the workspace, for undeclared (open) channels; true when one was new. */
  meet(...users: string[]): boolean;
  /** A response_url that lands in `responses`. */
  responseUrl(id: string): string;
  /** The next `times` calls of `method` get this answer instead. */
  override(method: string, answer: Override, times?: number): void;
  callsOf(method: string): StubCall[];
  /** Messages still streaming (started, never stopped). */
  openStreams(): StubMessage[];
  /** Calls and 429s per method and response_url posts, as copies (since the last reset). */
  counts(): StubCounts;
  responsesTo(id: string): StubResponse[];
  /** Messages in a channel in posting order (thread replies included), as copies: what a client showed then. */
  messagesIn(channel: string): StubMessage[];
  /** Replies in the thread of `threadTs`, in posting order (copies). */
  thread(channel: string, threadTs: string): StubMessage[];
  reset(): void;
  close(): Promise<void>;
}

/** Channel names the stub resolves (chat.postMessage accepts `#name` as well as an id). */
const NAMES: Record<string, string> = { '#alerts': 'C0ALERTS' };

/** conversations.members' largest page (docs.slack.dev/reference/methods/conversations.members). */
const MAX_MEMBERS_PAGE = 1000;

export async function startSlackApiStub(options: SlackApiStubOptions = {}): Promise<SlackApiStub> {
  const calls: StubCall[] = [];
  const counts: StubCounts = { calls: {}, rateLimited: {}, responses: 0 };
  const bump = (map: Record<string, number>, key: string) => {
    map[key] = (map[key] ?? 0) + 1;
  };
  const responses: StubResponse[] = [];
  const messages = new Map<string, StubMessage>();
  const views = new Map<string, Record<string, unknown> & { id: string }>();
  const uploads = new Map<string, string>();
  const conversations = new Map<string, StubConversation>();
  const users = new Map<string, StubUser>();
  const functionExecutions = new Map<string, StubFunctionExecution>();
  const usergroups = new Map<string, string[]>();
  let viewCounter = 0;
  let fileCounter = 0;
  const overrides = new Map<string, { answer: Override; times: number }[]>();
  const hanging = new Set<ServerResponse>();
  const channels = new Map<string, StubChannel>();
  const met = new Set<string>();
  /** A declared conversation, or how an undeclared one looks: open to everyone met, or a DM with the bot. */
  const conversation = (id: string): StubChannel | undefined => {
    const declared = channels.get(id);
    if (declared) return declared;
    if (id.startsWith('D')) {
      const user = id.slice(2);
      return id.startsWith('D0') && user ? { kind: 'im', members: [user, BOT_USER_ID] } : undefined;
    }
    return { kind: 'public', members: [...met, BOT_USER_ID] };
  };
  /** A conversation the bot may read (conversations.members / .info), or Slack's error for it. */
  const readable = (id: string | undefined): StubChannel | { error: string } => {
    if (!id) return { error: 'channel_not_found' };
    const c = conversation(id);
    if (!c) return { error: 'channel_not_found' };
    // Slack answers channel_not_found for a private conversation the caller is not in.
    if (c.kind !== 'public' && c.botIsMember === false) return { error: 'channel_not_found' };
    return c;
  };
  let tsCounter = 0;
  const nextTs = () => {
    tsCounter += 1;
    return `1700000000.${String(tsCounter).padStart(6, '0')}`;
  };

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://stub');
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };

    if (url.pathname.startsWith('/response/')) {
      counts.responses += 1;
      responses.push({
        id: url.pathname.slice('/response/'.length),
        body: JSON.parse(raw || '{}'),
        at: Date.now(),
      });
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok');
      return;
    }
    if (url.pathname.startsWith('/upload/')) {
      uploads.set(url.pathname.slice('/upload/'.length), raw);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('OK');
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      json(404, { ok: false, error: 'unknown_path' });
      return;
    }
    const method = url.pathname.slice('/api/'.length);
    const body = parseBody(raw, String(req.headers['content-type'] ?? ''));
    const token = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ''))?.[1];
    calls.push({ method, body, token, at: Date.now() });
    bump(counts.calls, method);
    const str = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
    const rateLimited = (retryAfterSeconds: number) => {
      bump(counts.rateLimited, method);
      json(429, { ok: false, error: 'ratelimited' }, { 'retry-after': String(retryAfterSeconds) });
    };

    const queue = overrides.get(method);
    const override = queue?.[0];
    if (override) {
      override.times -= 1;
      if (override.times <= 0) queue!.shift();
      if (override.answer.kind === 'ratelimit') {
        rateLimited(override.answer.retryAfterSeconds);
      } else if (override.answer.kind === 'error') {
        json(200, { ok: false, error: override.answer.error });
      } else if (override.answer.kind === 'status') {
        json(override.answer.status, { ok: false, error: 'internal_error' });
      } else {
        hanging.add(res);
      }
      return;
    }
    const limit = options.limits?.[method];
    if (limit) {
      const waitMs = limit.limit.take(limit.perChannel ? (str('channel') ?? '') : 'workspace', Date.now());
      if (waitMs !== undefined) return rateLimited(Math.max(1, Math.ceil(waitMs / 1000)));
    }

    switch (method) {
      case 'auth.test':
        json(200, {
          ok: true,
          url: 'https://test.slack.com/',
          team: 'Test',
          user: 'switchboard',
          team_id: TEAM_ID,
          user_id: BOT_USER_ID,
          bot_id: 'B0BOT',
        });
        return;
      case 'apps.connections.open':
        // Only an app-level token may open a connection (docs.slack.dev/reference/methods/apps.connections.open).
        if (!token) return json(200, { ok: false, error: 'not_authed' });
        if (!token.startsWith('xapp-')) return json(200, { ok: false, error: 'not_allowed_token_type' });
        json(200, { ok: true, url: socket.open(base) });
        return;
      case 'chat.postMessage': {
        const channel = NAMES[str('channel') ?? ''] ?? str('channel') ?? '';
        if (!channel) return json(200, { ok: false, error: 'channel_not_found' });
        const ts = nextTs();
        const text = str('text') ?? '';
        const blocks = (body.blocks as unknown[]) ?? [];
        const message: StubMessage = {
          channel,
          ts,
          threadTs: str('thread_ts'),
          text,
          blocks,
          edits: 0,
          states: [{ at: Date.now(), text, blocks }],
        };
        messages.set(`${channel}:${ts}`, message);
        json(200, { ok: true, channel, ts, message: { text: message.text, ts } });
        return;
      }
      case 'chat.update': {
        const key = `${str('channel')}:${str('ts')}`;
        const message = messages.get(key);
        if (!message) return json(200, { ok: false, error: 'message_not_found' });
        message.text = str('text') ?? message.text;
        message.blocks = (body.blocks as unknown[]) ?? message.blocks;
        message.edits += 1;
        message.states.push({ at: Date.now(), text: message.text, blocks: message.blocks });
        json(200, { ok: true, channel: message.channel, ts: message.ts, text: message.text });
        return;
      }
      case 'chat.delete': {
        const key = `${str('channel')}:${str('ts')}`;
        if (!messages.has(key)) return json(200, { ok: false, error: 'message_not_found' });
        messages.delete(key);
        json(200, { ok: true, channel: str('channel'), ts: str('ts') });
        return;
      }
      case 'chat.startStream':
      case 'chat.appendStream':
      case 'chat.stopStream':
        return json(200, streamCall(method, body));
      case 'chat.postEphemeral':
        json(200, { ok: true, message_ts: nextTs() });
        return;
      case 'chat.getPermalink':
        json(200, {
          ok: true,
          channel: str('channel'),
          permalink: `https://test.slack.com/archives/${str('channel')}/p${(str('message_ts') ?? '').replace('.', '')}`,
        });
        return;
      case 'views.open':
      case 'views.push': {
        viewCounter += 1;
        const view = { ...(body.view as object), id: `V0VIEW${viewCounter}` };
        views.set(view.id, view);
        json(200, { ok: true, view });
        return;
      }
      case 'views.update': {
        const id = str('view_id') ?? '';
        if (!views.has(id)) return json(200, { ok: false, error: 'not_found' });
        const view = { ...(body.view as object), id };
        views.set(id, view);
        json(200, { ok: true, view });
        return;
      }
      case 'conversations.open':
        json(200, { ok: true, channel: { id: `D0${str('users') ?? 'X'}` } });
        return;
      case 'files.getUploadURLExternal': {
        fileCounter += 1;
        json(200, {
          ok: true,
          upload_url: `${base}/upload/F0FILE${fileCounter}`,
          file_id: `F0FILE${fileCounter}`,
        });
        return;
      }
      case 'files.completeUploadExternal':
        json(200, { ok: true, files: [{ id: 'F0FILE', title: 'file' }] });
        return;
      case 'views.publish':
        json(200, { ok: true, view: { id: 'V0HOME', ...(body.view as object) } });
        return;
      case 'usergroups.users.list': {
        // docs.slack.dev/reference/methods/usergroups.users.list: the members' ids; an
        // unknown group is `no_such_subteam`.
        const members = usergroups.get(str('usergroup') ?? '');
        if (!members) return json(200, { ok: false, error: 'no_such_subteam' });
        json(200, { ok: true, users: members });
        return;
      }
      case 'conversations.info': {
        // A conversation the test declared with channel() (membership, Slack Connect), else
        // one declared in `conversations` (names, DMs), else an open public channel.
        if (!channels.has(str('channel') ?? '') && conversations.has(str('channel') ?? '')) {
          const id = str('channel') ?? '';
          const v = conversationOf(id);
          if (!v) return json(200, { ok: false, error: 'channel_not_found' });
          return json(200, {
            ok: true,
            channel: {
              id,
              name: v.name,
              is_channel: !v.isIm && !v.isMpim && !v.isPrivate,
              is_group: Boolean(v.isPrivate),
              is_im: Boolean(v.isIm),
              is_mpim: Boolean(v.isMpim),
              is_private: Boolean(v.isPrivate || v.isIm || v.isMpim),
              // Slack gives no is_member for a DM: being able to see it is being in it.
              ...(v.isIm ? {} : { is_member: v.isMember ?? true }),
            },
          });
        }
        const c = readable(str('channel'));
        if ('error' in c) return json(200, { ok: false, error: c.error });
        json(200, {
          ok: true,
          channel: {
            id: str('channel'),
            name: c.kind === 'im' ? undefined : 'general',
            is_channel: c.kind === 'public' || c.kind === 'private',
            is_group: false,
            is_im: c.kind === 'im',
            is_mpim: c.kind === 'mpim',
            is_private: c.kind !== 'public',
            is_ext_shared: Boolean(c.shared),
            is_member: c.botIsMember !== false,
          },
        });
        return;
      }
      case 'conversations.members': {
        // docs.slack.dev/reference/methods/conversations.members: `limit` (max 1000) per page,
        // an opaque `cursor` for the next one; an unknown or unreadable conversation is
        // channel_not_found, a bad cursor invalid_cursor.
        const c = readable(str('channel'));
        if ('error' in c) return json(200, { ok: false, error: c.error });
        const limit = Math.min(MAX_MEMBERS_PAGE, Math.max(1, Number(str('limit') ?? body.limit ?? 100)));
        const cursor = str('cursor');
        let offset = 0;
        if (cursor) {
          const decoded = /^off:(\d+)$/.exec(Buffer.from(cursor, 'base64').toString('utf8'));
          if (!decoded) return json(200, { ok: false, error: 'invalid_cursor' });
          offset = Number(decoded[1]);
        }
        const page = c.members.slice(offset, offset + limit);
        const more = offset + limit < c.members.length;
        json(200, {
          ok: true,
          members: page,
          response_metadata: {
            next_cursor: more ? Buffer.from(`off:${offset + limit}`).toString('base64') : '',
          },
        });
        return;
      }
      case 'conversations.replies':
        return json(200, replies(body));
      case 'functions.completeSuccess':
      case 'functions.completeError':
        return json(200, completeFunction(method, body, token));
      case 'users.info': {
        const id = str('user') ?? '';
        if (!/^[UW][A-Z0-9]+$/.test(id)) return json(200, { ok: false, error: 'user_not_found' });
        const u = users.get(id) ?? {};
        json(200, {
          ok: true,
          user: {
            id,
            team_id: u.teamId ?? TEAM_ID,
            name: u.name ?? id.toLowerCase(),
            real_name: u.realName ?? '',
            profile: { real_name: u.realName ?? '', display_name: u.displayName ?? '' },
            is_restricted: u.guest !== undefined,
            is_ultra_restricted: u.guest === 'ultra_restricted',
            ...(u.enterpriseId
              ? { enterprise_user: { enterprise_id: u.enterpriseId, teams: [u.teamId] } }
              : {}),
          },
        });
        return;
      }
      default:
        json(200, { ok: false, error: 'unknown_method' });
    }
  });
  /**
   * chat.startStream / appendStream / stopStream as documented (docs.slack.dev/reference/
   * methods/chat.startStream and its siblings): a stream is a reply in a thread
   * (`thread_ts` required); in a channel (not a DM) `recipient_user_id` and
   * `recipient_team_id` are required (missing_recipient_user_id / _team_id);
   * `markdown_text` is at most 12,000 characters and, with `chunks`, one of them is needed
   * (no_text); chunks must be markdown_text, task_update (id, title, a known status),
   * plan_update (title) or blocks (invalid_chunks). Appends and stops need a message still
   * streaming (message_not_in_streaming_state); a stop's `blocks` go under the text.
   */
  function streamCall(method: string, body: Record<string, unknown>): Record<string, unknown> {
    const str = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
    const channel = str('channel');
    if (!channel) return { ok: false, error: 'channel_not_found' };
    const markdown = str('markdown_text');
    if (markdown !== undefined && markdown.length > 12_000) return { ok: false, error: 'msg_too_long' };
    const chunks = body.chunks;
    if (chunks !== undefined && !validChunks(chunks)) return { ok: false, error: 'invalid_chunks' };
    const list = (chunks ?? []) as Record<string, unknown>[];
    const text = [
      ...list.filter((c) => c.type === 'markdown_text').map((c) => String(c.text)),
      markdown ?? '',
    ].join('');
    const tasks = list.filter((c) => c.type === 'task_update' || c.type === 'plan_update');
    if (method === 'chat.startStream') {
      const threadTs = str('thread_ts');
      if (!threadTs) return { ok: false, error: 'invalid_thread_ts' };
      if (!messages.has(`${channel}:${threadTs}`)) return { ok: false, error: 'invalid_thread_ts' };
      if (!channel.startsWith('D')) {
        if (!str('recipient_user_id')) return { ok: false, error: 'missing_recipient_user_id' };
        if (!str('recipient_team_id')) return { ok: false, error: 'missing_recipient_team_id' };
      }
      if (markdown === undefined && chunks === undefined) return { ok: false, error: 'no_text' };
      const ts = nextTs();
      messages.set(`${channel}:${ts}`, {
        channel,
        ts,
        threadTs,
        text,
        blocks: [],
        edits: 0,
        states: [{ at: Date.now(), text, blocks: [] }],
        streaming: true,
        tasks,
        recipient: str('recipient_user_id'),
      });
      return { ok: true, channel, ts };
    }
    const message = messages.get(`${channel}:${str('ts')}`);
    if (!message) return { ok: false, error: 'message_not_found' };
    if (!message.streaming) return { ok: false, error: 'message_not_in_streaming_state' };
    if (method === 'chat.appendStream' && markdown === undefined && chunks === undefined)
      return { ok: false, error: 'no_text' };
    message.text += text;
    message.tasks = [...(message.tasks ?? []), ...tasks];
    if (method === 'chat.stopStream') {
      message.streaming = false;
      if (Array.isArray(body.blocks)) message.blocks = body.blocks as unknown[];
    }
    message.edits += 1;
    message.states.push({ at: Date.now(), text: message.text, blocks: message.blocks });
    return { ok: true, channel, ts: message.ts };
  }

  /** A conversation the bot can see, or undefined (Slack's channel_not_found). */
  function conversationOf(id: string): StubConversation | undefined {
    const declared = channels.get(id);
    if (declared && !conversations.has(id)) {
      if (declared.kind !== 'public' && declared.botIsMember === false) return undefined;
      return {
        name: 'general',
        isPrivate: declared.kind === 'private',
        isIm: declared.kind === 'im',
        isMpim: declared.kind === 'mpim',
      };
    }
    const c = conversations.get(id) ?? { name: 'general' };
    const hidden = (c.isPrivate || c.isIm || c.isMpim) && c.isMember === false;
    return hidden ? undefined : c;
  }

  /**
   * conversations.replies (docs.slack.dev/reference/methods/conversations.replies): the
   * parent, then its replies oldest first; `oldest`/`latest` (with `inclusive`) bound them
   * by ts; `limit` per page, `cursor` to go on (`has_more`, `response_metadata.next_cursor`).
   * The bot must be in the conversation to read it.
   */
  function replies(body: Record<string, unknown>): Record<string, unknown> {
    const channel = String(body.channel ?? '');
    const c = conversationOf(channel);
    if (!c) return { ok: false, error: 'channel_not_found' };
    if (c.isMember === false) return { ok: false, error: 'not_in_channel' };
    const root = String(body.ts ?? '');
    const parent = messages.get(`${channel}:${root}`);
    if (!parent || parent.threadTs !== undefined) return { ok: false, error: 'thread_not_found' };
    const inclusive = body.inclusive === true || body.inclusive === 'true' || body.inclusive === '1';
    const oldest = body.oldest === undefined ? undefined : Number(body.oldest);
    const latest = body.latest === undefined ? undefined : Number(body.latest);
    const within = (ts: string) => {
      const t = Number(ts);
      if (oldest !== undefined && (inclusive ? t < oldest : t <= oldest)) return false;
      if (latest !== undefined && (inclusive ? t > latest : t >= latest)) return false;
      return true;
    };
    const thread = [
      parent,
      ...[...messages.values()].filter((m) => m.channel === channel && m.threadTs === root),
    ]
      .filter((m) => within(m.ts))
      .sort((a, b) => Number(a.ts) - Number(b.ts));
    const limit = Math.max(1, Math.min(999, Number(body.limit ?? 10) || 10));
    const offset = body.cursor ? Number(Buffer.from(String(body.cursor), 'base64').toString('utf8')) : 0;
    const page = thread.slice(offset, offset + limit);
    const more = offset + limit < thread.length;
    return {
      ok: true,
      messages: page.map((m) => ({
        type: 'message',
        ts: m.ts,
        text: m.text,
        ...(m.user
          ? { user: m.user }
          : { bot_id: 'B0BOT', bot_profile: { name: m.botName ?? 'Switchboard' } }),
        ...(m.threadTs ? { thread_ts: m.threadTs, parent_user_id: parent.user } : {}),
        ...(m.files ? { files: m.files.map((f, i) => ({ id: `F0${i}`, name: f.name })) } : {}),
      })),
      has_more: more,
      ...(more
        ? { response_metadata: { next_cursor: Buffer.from(String(offset + limit)).toString('base64') } }
        : {}),
    };
  }

  /**
   * functions.completeSuccess / completeError: only with the execution's own token, only
   * while it runs, and (success) with an `outputs` object holding the required outputs.
   */
  function completeFunction(
    method: string,
    body: Record<string, unknown>,
    token: string | undefined,
  ): Record<string, unknown> {
    if (!token) return { ok: false, error: 'not_authed' };
    const id = String(body.function_execution_id ?? '');
    if (!id) return { ok: false, error: 'invalid_arguments' };
    const execution = functionExecutions.get(id);
    if (!execution) return { ok: false, error: 'function_execution_not_found' };
    if (token !== execution.token) return { ok: false, error: 'invalid_auth' };
    if (execution.state !== 'running') return { ok: false, error: 'execution_not_in_running_state' };
    if (method === 'functions.completeError') {
      if (typeof body.error !== 'string' || body.error.trim() === '')
        return { ok: false, error: 'invalid_arguments' };
      execution.state = 'failed';
      execution.error = body.error;
      return { ok: true };
    }
    const outputs = body.outputs;
    if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs)) {
      return { ok: false, error: 'invalid_arguments' };
    }
    const given = outputs as Record<string, unknown>;
    const missing = execution.requiredOutputs.filter(
      (name) => given[name] === undefined || given[name] === null,
    );
    if (missing.length > 0) return { ok: false, error: 'parameter_validation_failed', errors: missing };
    execution.state = 'completed';
    execution.outputs = given;
    return { ok: true };
  }

  let base = '';
  const socket = attachSocketModeStub(server);
  // Idle connections stay open 30 s, not Node's 5: the bot's clients reuse them between the
  // bench's bursts instead of reconnecting.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: `${base}/api/`,
    calls,
    responses,
    messages,
    views,
    uploads,
    socket,
    conversations,
    users,
    functionExecutions,
    post(channel, m) {
      const ts = nextTs();
      messages.set(`${channel}:${ts}`, {
        channel,
        ts,
        threadTs: m.threadTs,
        text: m.text,
        blocks: [],
        edits: 0,
        states: [{ at: Date.now(), text: m.text, blocks: [] }],
        user: m.botName ? undefined : (m.user ?? 'U0SOMEONE'),
        files: m.files,
        botName: m.botName,
      });
      return ts;
    },
    usergroups,
    responseUrl: (id) => `${base}/response/${id}`,
    channel(id, channel) {
      channels.set(id, { ...channel, members: [...channel.members] });
    },
    join(id, user) {
      const c = conversation(id);
      if (!c) throw new Error(`no conversation ${id}`);
      if (!channels.has(id)) {
        // An open channel: joining it is being met.
        met.add(user);
        return;
      }
      if (!c.members.includes(user)) c.members.push(user);
    },
    leave(id, user) {
      const c = channels.get(id);
      if (!c) {
        // Leaving an open channel makes it a declared one, without that person.
        const open = conversation(id);
        if (!open) throw new Error(`no conversation ${id}`);
        channels.set(id, { ...open, members: open.members.filter((m) => m !== user) });
        return;
      }
      c.members = c.members.filter((m) => m !== user);
    },
    user(id, user) {
      users.set(id, user);
    },
    meet(...ids) {
      const before = met.size;
      for (const id of ids) met.add(id);
      return met.size > before;
    },
    override(method, answer, times = 1) {
      const queue = overrides.get(method) ?? [];
      queue.push({ answer, times });
      overrides.set(method, queue);
    },
    callsOf: (method) => calls.filter((c) => c.method === method),
    openStreams: () => structuredClone([...messages.values()].filter((m) => m.streaming === true)),
    counts: () => structuredClone(counts),
    responsesTo: (id) => responses.filter((r) => r.id === id),
    messagesIn: (channel) => structuredClone([...messages.values()].filter((m) => m.channel === channel)),
    thread: (channel, threadTs) =>
      structuredClone([...messages.values()].filter((m) => m.channel === channel && m.threadTs === threadTs)),
    reset() {
      calls.length = 0;
      responses.length = 0;
      messages.clear();
      views.clear();
      uploads.clear();
      usergroups.clear();
      overrides.clear();
      // The workspace's people stay; what a test declared about channels and people goes.
      channels.clear();
      conversations.clear();
      users.clear();
      functionExecutions.clear();
      socket.reset();
      counts.calls = {};
      counts.rateLimited = {};
      counts.responses = 0;
    },
    async close() {
      await socket.close();
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const TASK_STATUSES = new Set(['pending', 'in_progress', 'complete', 'error']);

/** Chunks as chat.*Stream accept them (docs.slack.dev/messaging/sending-and-scheduling-messages#text-streaming). */
function validChunks(chunks: unknown): boolean {
  if (!Array.isArray(chunks) || chunks.length === 0) return false;
  return chunks.every((c: Record<string, unknown>) => {
    if (typeof c !== 'object' || c === null) return false;
    switch (c.type) {
      case 'markdown_text':
        return typeof c.text === 'string' && c.text.length <= 12_000;
      case 'task_update':
        return (
          typeof c.id === 'string' &&
          typeof c.title === 'string' &&
          c.title.length > 0 &&
          TASK_STATUSES.has(String(c.status))
        );
      case 'plan_update':
        return typeof c.title === 'string' && c.title.length > 0;
      case 'blocks':
        return Array.isArray(c.blocks) && c.blocks.length <= 50;
      default:
        return false;
    }
  });
}

/** WebClient sends form bodies with nested values (blocks, view) as JSON strings. */
function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (!raw) return {};
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    out[key] = /^[[{]/.test(value) ? safeJson(value) : value;
  }
  return out;
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}
