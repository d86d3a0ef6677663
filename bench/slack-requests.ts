import { createHmac, randomBytes } from 'node:crypto';

/**
 * Requests as Slack sends them to /slack/events: form-encoded, signed with the signing
 * secret (v0 HMAC-SHA256 of `v0:<timestamp>:<body>`,
 * docs.slack.dev/authentication/verifying-requests-from-slack).
 */

export const SIGNING_SECRET = 'bench-signing-secret-0123456789';

const triggerId = () => `trigger.${Date.now()}.${randomBytes(4).toString('hex')}`;

export function signedHeaders(body: string, secret = SIGNING_SECRET): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
  return {
    'content-type': 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': `v0=${signature}`,
  };
}

export function slashCommand(
  text: string,
  o: { user: string; channel: string; responseUrl: string },
): string {
  return new URLSearchParams({
    token: 'deprecated',
    team_id: 'T0BENCH',
    team_domain: 'bench',
    channel_id: o.channel,
    channel_name: 'bench',
    user_id: o.user,
    user_name: o.user.toLowerCase(),
    command: '/workflow',
    text,
    api_app_id: 'A0BENCH',
    response_url: o.responseUrl,
    trigger_id: triggerId(),
  }).toString();
}

/** A block_actions payload: `user` picks `value` in the select `actionId` of block `blockId`. */
export function selectAction(o: {
  user: string;
  channel: string;
  messageTs: string;
  blockId: string;
  actionId: string;
  value: string;
  responseUrl: string;
}): string {
  const payload = {
    type: 'block_actions',
    user: { id: o.user, username: o.user.toLowerCase(), team_id: 'T0BENCH' },
    api_app_id: 'A0BENCH',
    token: 'deprecated',
    container: { type: 'message', message_ts: o.messageTs, channel_id: o.channel, is_ephemeral: false },
    trigger_id: triggerId(),
    team: { id: 'T0BENCH', domain: 'bench' },
    channel: { id: o.channel, name: 'bench' },
    response_url: o.responseUrl,
    actions: [
      {
        type: 'static_select',
        action_id: o.actionId,
        block_id: o.blockId,
        selected_option: { text: { type: 'plain_text', text: o.value }, value: o.value },
        action_ts: `${Date.now() / 1000}`,
      },
    ],
  };
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}
