import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { waitFor } from '../support/engine.js';
import { type SlackApiStub, startSlackApiStub } from '../support/slack-api-stub.js';
import type { Envelope } from '../support/slack-socket-stub.js';

/**
 * The Socket Mode stand-in itself, driven by a bare WebSocket client: the tests of the bot
 * are only as good as its fidelity to what Slack documents
 * (docs.slack.dev/apis/events-api/using-socket-mode).
 */

let stub: SlackApiStub;
const clients: WebSocket[] = [];

beforeAll(async () => {
  stub = await startSlackApiStub();
});

afterAll(async () => {
  for (const c of clients) c.terminate();
  await stub?.close();
});

async function openConnection(token: string) {
  const response = await fetch(`${stub.apiUrl}apps.connections.open`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
  });
  return (await response.json()) as { ok: boolean; url?: string; error?: string };
}

/** A client that keeps every text frame it gets. */
async function connect(url: string) {
  const frames: Record<string, unknown>[] = [];
  const ws = new WebSocket(url);
  clients.push(ws);
  ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await waitFor(() => frames.length > 0, 5000, 'hello');
  return { ws, frames };
}

describe('the Socket Mode stand-in', () => {
  it('opens connections only for an app-level token, with single-use tickets, and says hello first', async () => {
    expect(await openConnection('xoxb-bot')).toEqual({ ok: false, error: 'not_allowed_token_type' });
    const opened = await openConnection('xapp-1-test');
    expect(opened.ok).toBe(true);
    expect(opened.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/link\/\?ticket=/);

    const { ws, frames } = await connect(opened.url!);
    expect(frames[0]).toMatchObject({
      type: 'hello',
      num_connections: 1,
      connection_info: { app_id: 'A0TEST' },
      debug_info: { host: expect.any(String), approximate_connection_time: expect.any(Number) },
    });
    // A ticket opens one connection.
    await expect(connect(opened.url!)).rejects.toThrow(/401/);
    // Pings are answered.
    const pong = new Promise<void>((resolve) => ws.once('pong', () => resolve()));
    ws.ping('are you there');
    await pong;
    expect(stub.socket.pings).toBeGreaterThan(0);
    ws.close(1000);
    await waitFor(() => stub.socket.connections[0]!.closeCode === 1000, 5000, 'the close');
  });

  it('sends an unacked event again after a reconnect, with retry_attempt + 1, and never an acked one', async () => {
    const first = await connect((await openConnection('xapp-1-test')).url!);
    const commandWithoutConnection = () => stub.socket.deliver('slash_commands', { command: '/x' });
    const eventId = stub.socket.deliver('events_api', { type: 'event_callback', event: { type: 'x' } });
    const acked = stub.socket.deliver('events_api', { type: 'event_callback', event: { type: 'y' } });
    await waitFor(() => first.frames.length === 3, 5000, 'two envelopes');
    expect(first.frames[1]).toMatchObject({ envelope_id: eventId, type: 'events_api', retry_attempt: 0 });
    first.ws.send(JSON.stringify({ envelope_id: acked })); // an ack without payload, as Slack documents
    await stub.socket.ackOf(acked);
    expect(stub.socket.acksOf(acked)[0]!.payload).toEqual({});

    // Slack asks for a refresh; the client closes, as the SDK does.
    first.ws.once('message', () => first.ws.close(1000));
    const closed = await stub.socket.disconnect('refresh_requested');
    expect(first.frames.at(-1)).toMatchObject({ type: 'disconnect', reason: 'refresh_requested' });
    expect(closed.closeCode).toBe(1000);
    expect(commandWithoutConnection).toThrow(/no open Socket Mode connection/);

    const second = await connect((await openConnection('xapp-1-test')).url!);
    await waitFor(() => second.frames.length === 2, 5000, 'the retried event');
    const retried = second.frames[1] as unknown as Envelope;
    expect(retried).toMatchObject({ envelope_id: eventId, retry_attempt: 1, retry_reason: 'timeout' });
    second.ws.send(JSON.stringify({ envelope_id: eventId, payload: {} }));
    await stub.socket.ackOf(eventId);

    // Acked now: a third connection gets nothing but its hello.
    second.ws.once('message', () => second.ws.close(1000));
    await stub.socket.disconnect();
    const third = await connect((await openConnection('xapp-1-test')).url!);
    const sentBefore = stub.socket.sent.length;
    const probe = stub.socket.deliver('interactive', { type: 'block_actions' });
    await waitFor(() => third.frames.length === 2, 5000, 'the probe');
    expect((third.frames[1] as { envelope_id: string }).envelope_id).toBe(probe);
    expect(stub.socket.sent.slice(sentBefore).map((e) => e.envelope_id)).toEqual([probe]);
  });
});
