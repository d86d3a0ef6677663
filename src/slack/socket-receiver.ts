import { type App, type ReceiverEvent, SocketModeReceiver, type webApi } from '@slack/bolt';

/**
 * Socket Mode: Bolt's receiver, joined to SLACK_API_URL, with every envelope acked, and a
 * start failure told in words that name the setting to fix.
 */

/** The bot could not connect to Slack; the message says which setting to fix. */
export class SlackStartError extends Error {
  override name = 'SlackStartError';
}

export interface SocketReceiverOptions {
  appToken: string;
  /** SLACK_API_URL with its trailing slash; unset means Slack's own. */
  slackApiUrl: string | undefined;
  logger: webApi.Logger;
}

export function createSocketReceiver(options: SocketReceiverOptions): SocketModeReceiver {
  return new AckingSocketModeReceiver({
    appToken: options.appToken,
    logger: options.logger,
    // The socket client makes its own WebClient for apps.connections.open from these options
    // and opens the WebSocket URL that call returns, so this is what points Socket Mode at
    // SLACK_API_URL (a proxy, GovSlack). Bolt passes App's clientOptions on only to a receiver
    // it builds itself. A fresh object: the socket client writes its own retryConfig into the
    // one it gets (@slack/socket-mode SocketModeClient constructor), which must not reach the
    // bot's clients, and its `headers` must stay unset or they replace the xapp- Authorization.
    installerOptions: { clientOptions: options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {} },
  });
}

/**
 * Bolt leaves an envelope unacked when it cannot tell what the payload is or when no
 * listener takes it; over HTTP the same request gets a 404 after 3 s. Over the socket,
 * silence makes Slack retry an event and show the user an error, for a payload that changes
 * nothing either way. So once Bolt is done with an envelope that nobody acked, it is acked
 * empty. Bolt is done only after its listeners, so a listener's own ack, however late, is
 * never replaced.
 */
class AckingSocketModeReceiver extends SocketModeReceiver {
  override init(app: App): void {
    // The receiver only calls app.processEvent (@slack/bolt SocketModeReceiver); the rest of
    // the app is reached through the prototype.
    const guarded = Object.create(app) as App;
    guarded.processEvent = (event) => processThenAck(app, event);
    super.init(guarded);
  }

  override async start(): ReturnType<SocketModeReceiver['start']> {
    try {
      return await super.start();
    } catch (error) {
      throw new SlackStartError(socketStartProblem(error), { cause: error });
    }
  }
}

async function processThenAck(app: App, event: ReceiverEvent): Promise<void> {
  let acked = false;
  const ack: ReceiverEvent['ack'] = async (response) => {
    acked = true;
    await event.ack(response);
  };
  try {
    await app.processEvent({ ...event, ack });
  } finally {
    if (!acked) await ack();
  }
}

/**
 * What went wrong opening the connection (apps.connections.open with the app-level token),
 * as advice. At start the socket client gives up at once on an auth error
 * (@slack/socket-mode UnrecoverableSocketModeStartError); HTTP and network errors it retries
 * for a long time, as on a reconnect, and those reach here only if it ever gives up.
 */
export function socketStartProblem(error: unknown): string {
  const e = error as { code?: string; data?: { error?: string }; message?: string };
  if (e.code === 'slack_webapi_platform_error' && e.data?.error) {
    return (
      `Slack refused SLACK_APP_TOKEN (${e.data.error}) when opening the Socket Mode connection: ` +
      'copy the app-level token (xapp-…, Basic Information → App-Level Tokens, scope connections:write) ' +
      'again and restart'
    );
  }
  return (
    'Could not open the Socket Mode connection for SLACK_APP_TOKEN through SLACK_API_URL ' +
    `(default https://slack.com/api/): ${e.message ?? String(error)}`
  );
}
