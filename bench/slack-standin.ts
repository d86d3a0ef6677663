import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type MethodLimit, slackLimits } from './standin-limits.js';

/**
 * A Slack Web API stand-in on 127.0.0.1 for the benchmark. It answers like Slack
 * (`{ ok: true, … }`, HTTP 429 + Retry-After when a method's rate limit is exceeded — see
 * standin-limits.ts), counts calls and 429s per method, and keeps every state each message
 * had, with the time it arrived, so the bench can tell when a card first showed a state.
 * response_url posts (ephemeral answers) are accepted and counted.
 */

export interface MessageState {
  at: number;
  text: string;
  blocks: unknown[];
}

export interface StandinMessage {
  channel: string;
  ts: string;
  threadTs: string | undefined;
  states: MessageState[];
}

export interface StandinCounts {
  /** Calls received per method, 429s included. */
  calls: Record<string, number>;
  /** Calls answered 429 per method. */
  rateLimited: Record<string, number>;
  /** response_url posts. */
  responses: number;
}

export interface SlackStandin {
  /** For SLACK_API_URL. */
  apiUrl: string;
  responseUrl(id: string): string;
  /** Every message by `${channel}:${ts}`. */
  messages: Map<string, StandinMessage>;
  counts(): StandinCounts;
  close(): Promise<void>;
}

export async function startSlackStandin(
  limits: Record<string, MethodLimit> = slackLimits(),
): Promise<SlackStandin> {
  const messages = new Map<string, StandinMessage>();
  const counts: StandinCounts = { calls: {}, rateLimited: {}, responses: 0 };
  let seq = 0;
  const bump = (map: Record<string, number>, key: string) => {
    map[key] = (map[key] ?? 0) + 1;
  };

  const server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = req.url ?? '/';
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (path.startsWith('/response/')) {
      counts.responses++;
      return reply(200, { ok: true });
    }
    const method = path.replace(/^\/api\//, '').split('?')[0]!;
    const body = parseBody(Buffer.concat(chunks).toString('utf8'), String(req.headers['content-type'] ?? ''));
    const str = (key: string) => (typeof body[key] === 'string' ? (body[key] as string) : undefined);
    bump(counts.calls, method);

    const limit = limits[method];
    if (limit) {
      const key = limit.perChannel ? (str('channel') ?? '') : 'workspace';
      const waitMs = limit.limit.take(key, Date.now());
      if (waitMs !== undefined) {
        bump(counts.rateLimited, method);
        return reply(
          429,
          { ok: false, error: 'ratelimited' },
          { 'retry-after': String(Math.max(1, Math.ceil(waitMs / 1000))) },
        );
      }
    }

    const state = (): MessageState => ({
      at: Date.now(),
      text: str('text') ?? '',
      blocks: Array.isArray(body.blocks) ? body.blocks : [],
    });
    switch (method) {
      case 'auth.test':
        return reply(200, { ok: true, team_id: 'T0BENCH', user_id: 'U0BOT', bot_id: 'B0BOT' });
      case 'chat.postMessage': {
        const channel = str('channel');
        if (!channel) return reply(200, { ok: false, error: 'channel_not_found' });
        seq += 1;
        const ts = `1800000000.${String(seq).padStart(6, '0')}`;
        messages.set(`${channel}:${ts}`, { channel, ts, threadTs: str('thread_ts'), states: [state()] });
        return reply(200, { ok: true, channel, ts });
      }
      case 'chat.update': {
        const message = messages.get(`${str('channel')}:${str('ts')}`);
        if (!message) return reply(200, { ok: false, error: 'message_not_found' });
        message.states.push(state());
        return reply(200, { ok: true, channel: message.channel, ts: message.ts });
      }
      case 'chat.postEphemeral':
        return reply(200, { ok: true, message_ts: `1800000001.${String(++seq).padStart(6, '0')}` });
      case 'chat.getPermalink':
        return reply(200, { ok: true, permalink: `https://bench.slack.com/archives/${str('channel')}/p1` });
      case 'views.open':
      case 'views.publish':
        return reply(200, { ok: true, view: { id: 'V0BENCH' } });
      default:
        return reply(200, { ok: false, error: 'unknown_method' });
    }
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    apiUrl: `${base}/api/`,
    responseUrl: (id) => `${base}/response/${id}`,
    messages,
    counts: () => structuredClone(counts),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** WebClient sends form bodies whose nested values (blocks) are JSON strings. */
function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (!raw) return {};
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    out[key] = /^[[{]/.test(value) ? JSON.parse(value) : value;
  }
  return out;
}
