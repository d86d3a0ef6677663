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
  /** User groups by id (S…) and their members, for usergroups.users.list. */
  usergroups: Map<string, string[]>;
  /** A response_url that lands in `responses`. */
  responseUrl(id: string): string;
  /** The next `times` calls of `method` get this answer instead. */
  override(method: string, answer: Override, times?: number): void;
  callsOf(method: string): StubCall[];
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
  const usergroups = new Map<string, string[]>();
  let viewCounter = 0;
  let fileCounter = 0;
  const overrides = new Map<string, { answer: Override; times: number }[]>();
  const hanging = new Set<ServerResponse>();
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
          team_id: 'T0TEST',
          user_id: 'U0BOT',
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
      case 'conversations.info':
        json(200, { ok: true, channel: { id: str('channel'), name: 'general', is_member: true } });
        return;
      default:
        json(200, { ok: false, error: 'unknown_method' });
    }
  });
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
    usergroups,
    responseUrl: (id) => `${base}/response/${id}`,
    override(method, answer, times = 1) {
      const queue = overrides.get(method) ?? [];
      queue.push({ answer, times });
      overrides.set(method, queue);
    },
    callsOf: (method) => calls.filter((c) => c.method === method),
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
