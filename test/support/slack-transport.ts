import { interactionBody, postSigned, type SignedResponse } from './slack-requests.js';
import type { SocketModeStub } from './slack-socket-stub.js';

/**
 * How Slack's requests reach the bot under test, in either mode, with one result shape: the
 * ack. Over HTTP a request is signed and the ack is the HTTP response; over Socket Mode the
 * same payload goes out in an envelope and the ack comes back on the socket, its payload
 * standing for the response body (`text` is that payload as JSON, empty when it is `{}`, as
 * an empty 200 is over HTTP).
 */

export type SlackMode = 'http' | 'socket';

export interface SlackResponse extends SignedResponse {
  /** Socket Mode: the envelope this answers. */
  envelopeId?: string;
}

export interface SlackTransport {
  mode: SlackMode;
  /** A slash command (its fields as strings). `signature` forges one over HTTP. */
  command(fields: Record<string, string>, options?: { signature?: string }): Promise<SlackResponse>;
  /** block_actions, view_submission and the other interaction payloads. */
  interaction(payload: Record<string, unknown>): Promise<SlackResponse>;
  /** An Events API callback (`type: event_callback`). */
  event(body: Record<string, unknown>): Promise<SlackResponse>;
}

export function httpTransport(eventsUrl: string, secret: string): SlackTransport {
  return {
    mode: 'http',
    command: (fields, o = {}) =>
      postSigned(eventsUrl, new URLSearchParams(fields).toString(), secret, { signature: o.signature }),
    interaction: (payload) => postSigned(eventsUrl, interactionBody(payload), secret),
    event: (body) => postSigned(eventsUrl, JSON.stringify(body), secret, { contentType: 'application/json' }),
  };
}

/** Far more than Slack's 3 s: a busy machine must not fail a test; the ack is still awaited, not assumed. */
export const ACK_BOUND_MS = 10_000;

export function socketTransport(socket: SocketModeStub): SlackTransport {
  const exchange = async (envelopeId: string): Promise<SlackResponse> => {
    const ack = await socket.ackOf(envelopeId, ACK_BOUND_MS);
    const empty = Object.keys(ack.payload).length === 0;
    return { status: 200, text: empty ? '' : JSON.stringify(ack.payload), at: ack.at, envelopeId };
  };
  return {
    mode: 'socket',
    command(fields, o = {}) {
      // Socket Mode has no signatures: the connection itself is authenticated.
      if (o.signature) throw new Error('a forged signature is an HTTP-mode test');
      return exchange(socket.deliver('slash_commands', fields, { acceptsResponsePayload: true }));
    },
    interaction: (payload) =>
      exchange(socket.deliver('interactive', payload, { acceptsResponsePayload: true })),
    event: (body) => exchange(socket.deliver('events_api', body, { acceptsResponsePayload: false })),
  };
}
