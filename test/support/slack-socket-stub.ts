import { randomBytes } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { waitFor } from './wait.js';

/**
 * Slack's side of Socket Mode, on the Web API stub's port
 * (docs.slack.dev/apis/events-api/using-socket-mode; facts in docs/slack.md):
 *
 * - `apps.connections.open` (answered by the Web API stub, Bearer xapp- token only) hands
 *   out a single-use ticket URL, ws://127.0.0.1:<port>/link/?ticket=…;
 * - on connect the server sends `hello`; then envelopes
 *   `{ envelope_id, type, payload, accepts_response_payload }`, which the app acks with
 *   `{ envelope_id, payload? }` (the payload of a slash command or a view submission is the
 *   answer that HTTP would carry in its response body);
 * - `disconnect` (refresh_requested, warning, link_disabled) asks the app to reconnect: a new
 *   apps.connections.open, a new socket, a new hello;
 * - pings are answered with pongs (the `ws` server does it).
 *
 * Delivery as Slack does it: slash commands and interactions go to an open connection once,
 * and are never retried (the user sees an error instead). Events API envelopes are delivered
 * at least once: one sent while no connection is open waits for the next, and one still
 * unacked when its connection closes is sent again on the next connection with
 * `retry_attempt` + 1 and a `retry_reason`. An acked envelope is never sent again.
 */

export type EnvelopeType = 'slash_commands' | 'interactive' | 'events_api';

export interface Envelope {
  envelope_id: string;
  type: EnvelopeType;
  payload: unknown;
  accepts_response_payload: boolean;
  retry_attempt?: number;
  retry_reason?: string;
}

export interface SocketAck {
  envelope_id: string;
  /** What the app put in the ack (`{}` when it sent none). */
  payload: Record<string, unknown>;
  /** Which connection it came on. */
  connection: number;
  at: number;
}

export interface SocketConnection {
  id: number;
  ticket: string;
  openedAt: number;
  closedAt?: number;
  /** The close code, once closed (1000 when the app closed it after a `disconnect`). */
  closeCode?: number;
}

export interface SocketModeStub {
  /** Tickets handed out by apps.connections.open, one per call. */
  tickets: string[];
  connections: SocketConnection[];
  /** Every envelope sent, redeliveries included, in order. */
  sent: Envelope[];
  acks: SocketAck[];
  /** Pings the app sent (the `ws` server answers each with a pong). */
  pings: number;
  /** Answers apps.connections.open (called by the Web API stub). */
  open(baseUrl: string): string;
  /** Waits for a connection that got its hello and is still open; returns it. */
  connected(timeoutMs?: number): Promise<SocketConnection>;
  /**
   * Sends an envelope and returns its id. Slash commands and interactions need an open
   * connection (as on Slack, where the user would see an error); events wait for one.
   */
  deliver(type: EnvelopeType, payload: unknown, options?: { acceptsResponsePayload?: boolean }): string;
  /** Sends `envelope` as is (e.g. one already sent, with the same envelope_id). */
  resend(envelope: Envelope): void;
  /** Any text frame on the open connection. */
  sendRaw(text: string): void;
  /** Waits for the ack of an envelope. */
  ackOf(envelopeId: string, timeoutMs?: number): Promise<SocketAck>;
  acksOf(envelopeId: string): SocketAck[];
  /** Sends `disconnect` on the open connection and waits until the app has closed it. */
  disconnect(reason?: 'refresh_requested' | 'warning' | 'link_disabled'): Promise<SocketConnection>;
  reset(): void;
  close(): Promise<void>;
}

const APP_ID = 'A0TEST';

export function attachSocketModeStub(server: Server): SocketModeStub {
  const wss = new WebSocketServer({ noServer: true });
  const tickets: string[] = [];
  const unused = new Set<string>();
  const connections: SocketConnection[] = [];
  const sockets = new Map<number, WebSocket>();
  const sent: Envelope[] = [];
  const acks: SocketAck[] = [];
  /** Events API envelopes not yet acked, with the connection they were last sent on. */
  const unacked = new Map<string, { envelope: Envelope; connection: number | undefined }>();
  let envelopeCounter = 0;
  let pings = 0;

  const openSocket = (): [SocketConnection, WebSocket] | undefined => {
    for (const c of [...connections].reverse()) {
      const ws = sockets.get(c.id);
      if (ws && ws.readyState === ws.OPEN) return [c, ws];
    }
    return undefined;
  };

  const send = (envelope: Envelope) => {
    const open = openSocket();
    if (envelope.type === 'events_api') {
      unacked.set(envelope.envelope_id, { envelope, connection: open?.[0].id });
      if (!open) return; // held until the next connection
    } else if (!open) {
      throw new Error(`no open Socket Mode connection for a ${envelope.type} envelope`);
    }
    sent.push(envelope);
    open[1].send(JSON.stringify(envelope));
  };

  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    const ticket = url.searchParams.get('ticket') ?? '';
    if (url.pathname !== '/link/' || !unused.delete(ticket)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const connection: SocketConnection = { id: connections.length + 1, ticket, openedAt: Date.now() };
      connections.push(connection);
      sockets.set(connection.id, ws);
      ws.on('ping', () => {
        pings += 1;
      });
      ws.on('message', (data, isBinary) => {
        if (isBinary) return;
        let message: { envelope_id?: unknown; payload?: unknown };
        try {
          message = JSON.parse(data.toString());
        } catch {
          return;
        }
        if (typeof message.envelope_id !== 'string') return;
        acks.push({
          envelope_id: message.envelope_id,
          // Slack documents the payload as optional; the Node SDK always sends one.
          payload: (message.payload as Record<string, unknown> | undefined) ?? {},
          connection: connection.id,
          at: Date.now(),
        });
        unacked.delete(message.envelope_id);
      });
      ws.on('close', (code) => {
        connection.closedAt = Date.now();
        connection.closeCode = code;
        sockets.delete(connection.id);
      });
      const open = [...sockets.values()].filter((s) => s.readyState === s.OPEN).length;
      ws.send(
        JSON.stringify({
          type: 'hello',
          num_connections: open,
          debug_info: {
            host: `applink-stub-${connection.id}`,
            build_number: 1,
            approximate_connection_time: 18060,
          },
          connection_info: { app_id: APP_ID },
        }),
      );
      // Events still unacked: those sent on a connection that has closed since, and those
      // that waited for one.
      for (const [id, entry] of unacked) {
        if (entry.connection !== undefined && sockets.has(entry.connection)) continue;
        const retried = entry.connection !== undefined;
        const envelope: Envelope = retried
          ? {
              ...entry.envelope,
              retry_attempt: (entry.envelope.retry_attempt ?? 0) + 1,
              retry_reason: 'timeout',
            }
          : entry.envelope;
        unacked.set(id, { envelope, connection: connection.id });
        sent.push(envelope);
        ws.send(JSON.stringify(envelope));
      }
    });
  });

  return {
    tickets,
    connections,
    sent,
    acks,
    get pings() {
      return pings;
    },
    open(baseUrl) {
      const ticket = `${randomBytes(6).toString('hex')}-${tickets.length + 1}`;
      tickets.push(ticket);
      unused.add(ticket);
      return `${baseUrl.replace(/^http/, 'ws')}/link/?ticket=${ticket}`;
    },
    async connected(timeoutMs = 15_000) {
      return waitFor(() => openSocket()?.[0], timeoutMs, 'an open Socket Mode connection');
    },
    deliver(type, payload, options = {}) {
      envelopeCounter += 1;
      const envelope: Envelope = {
        envelope_id: `${randomBytes(4).toString('hex')}-env-${envelopeCounter}`,
        type,
        payload,
        accepts_response_payload: options.acceptsResponsePayload ?? type !== 'events_api',
      };
      if (type === 'events_api') Object.assign(envelope, { retry_attempt: 0, retry_reason: '' });
      send(envelope);
      return envelope.envelope_id;
    },
    resend(envelope) {
      const open = openSocket();
      if (!open) throw new Error('no open Socket Mode connection');
      sent.push(envelope);
      open[1].send(JSON.stringify(envelope));
    },
    sendRaw(text) {
      const open = openSocket();
      if (!open) throw new Error('no open Socket Mode connection');
      open[1].send(text);
    },
    async ackOf(envelopeId, timeoutMs = 10_000) {
      return waitFor(
        () => acks.find((a) => a.envelope_id === envelopeId),
        timeoutMs,
        `the ack of envelope ${envelopeId}`,
      );
    },
    acksOf: (envelopeId) => acks.filter((a) => a.envelope_id === envelopeId),
    async disconnect(reason = 'refresh_requested') {
      const open = openSocket();
      if (!open) throw new Error('no open Socket Mode connection');
      const [connection, ws] = open;
      ws.send(
        JSON.stringify({ type: 'disconnect', reason, debug_info: { host: `wss-stub-${connection.id}` } }),
      );
      // The app answers with a close frame at once; a server that waits for ever is not Slack.
      try {
        await waitFor(() => connection.closedAt !== undefined, 5000, 'the app to close the connection');
      } catch {
        ws.terminate();
        await waitFor(() => connection.closedAt !== undefined, 5000, 'the connection to close');
      }
      return connection;
    },
    reset() {
      sent.length = 0;
      acks.length = 0;
      unacked.clear();
    },
    async close() {
      for (const ws of sockets.values()) ws.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}
