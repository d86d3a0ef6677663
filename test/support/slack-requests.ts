import { createHmac, randomBytes } from 'node:crypto';
import type { StubMessage } from './slack-api-stub.js';

/**
 * Requests as Slack sends them over HTTP: signed with the app's signing secret (v0
 * HMAC-SHA256 of `v0:<timestamp>:<raw body>`,
 * docs.slack.dev/authentication/verifying-requests-from-slack), slash commands
 * form-encoded, interactions form-encoded as `payload=<json>`. The payload builders serve
 * Socket Mode too, where the same payloads travel as JSON in an envelope. The tests'
 * harness and the bench's load both build their requests here.
 *
 * Loaded by bench/ too: it imports nothing of the test runner's.
 */

/** The signing secret of the app the tests and the bench start. */
export const SIGNING_SECRET = 'test-signing-secret-0123456789';

/** Slack's trigger_ids are unique per invocation. */
const triggerId = () => `trigger.${Date.now()}.${randomBytes(4).toString('hex')}`;

export function signature(secret: string, timestamp: number, body: string): string {
  return `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
}

/** The headers of a request Slack signed with `secret` at `timestamp` (now unless given). */
export function signedHeaders(
  body: string,
  secret: string = SIGNING_SECRET,
  options: { timestamp?: number; signature?: string; contentType?: string } = {},
): Record<string, string> {
  const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    // Events API callbacks are JSON; commands and interactions are form-encoded.
    'content-type': options.contentType ?? 'application/x-www-form-urlencoded',
    'x-slack-request-timestamp': String(timestamp),
    'x-slack-signature': options.signature ?? signature(secret, timestamp, body),
  };
}

export interface SignedResponse {
  status: number;
  text: string;
  /** When the HTTP response (the ack) arrived. */
  at: number;
}

export async function postSigned(
  url: string,
  body: string,
  secret: string,
  options: { timestamp?: number; signature?: string; contentType?: string } = {},
): Promise<SignedResponse> {
  const response = await fetch(url, { method: 'POST', headers: signedHeaders(body, secret, options), body });
  const text = await response.text();
  return { status: response.status, text, at: Date.now() };
}

export interface SlashCommandFields {
  text: string;
  user: string;
  channel: string;
  responseUrl: string;
}

/** A slash command's fields: form-encoded over HTTP, a JSON object of the same strings over Socket Mode. */
export function slashCommandPayload(fields: SlashCommandFields): Record<string, string> {
  return {
    token: 'deprecated-verification-token',
    team_id: 'T0TEST',
    team_domain: 'test',
    channel_id: fields.channel,
    channel_name: 'runs',
    user_id: fields.user,
    user_name: fields.user.toLowerCase(),
    command: '/workflow',
    text: fields.text,
    api_app_id: 'A0TEST',
    is_enterprise_install: 'false',
    response_url: fields.responseUrl,
    trigger_id: triggerId(),
  };
}

export function slashCommandBody(fields: SlashCommandFields): string {
  return new URLSearchParams(slashCommandPayload(fields)).toString();
}

export function interactionBody(payload: unknown): string {
  return new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
}

type Json = Record<string, unknown>;

function* elements(blocks: unknown[]): Generator<{ block: Json; element: Json }> {
  for (const block of blocks as Json[]) {
    if (block.type === 'actions') for (const element of block.elements as Json[]) yield { block, element };
    if (block.type === 'section' && block.accessory) yield { block, element: block.accessory as Json };
  }
}

/** The interactive element with this action_id (or matching it) in a message, with its block_id. */
export function findElement(
  message: Pick<StubMessage, 'blocks'>,
  actionId: string | RegExp,
): { blockId: string; element: Json } | undefined {
  for (const { block, element } of elements(message.blocks)) {
    const id = String(element.action_id);
    if (typeof actionId === 'string' ? id === actionId : actionId.test(id)) {
      return { blockId: String(block.block_id), element };
    }
  }
  return undefined;
}

/** Every action_id on a message. */
export function actionIds(message: StubMessage): string[] {
  return [...elements(message.blocks)].map((e) => String(e.element.action_id));
}

/** The `actions[0]` of a click on `found`; with `blockId` given, on an element the message lacks (a forgery). */
function clickedAction(
  found: ReturnType<typeof findElement>,
  actionId: string | RegExp,
  options: { option?: string; value?: string; blockId?: string },
  where: string,
): Json {
  if (!found && !options.blockId) throw new Error(`${where} has no element ${String(actionId)}`);
  const element = found?.element ?? { type: 'button', action_id: String(actionId) };
  const action: Json = {
    type: element.type,
    action_id: element.action_id,
    block_id: options.blockId ?? found!.blockId,
    action_ts: `${Date.now() / 1000}`,
  };
  if (element.type === 'static_select' || element.type === 'overflow') {
    action.selected_option = {
      text: { type: 'plain_text', text: options.option ?? '' },
      value: options.option,
    };
  } else {
    action.value = options.value ?? element.value;
  }
  return action;
}

/** What every block_actions payload carries, whatever was clicked. */
function blockActionsEnvelope(user: string): Json {
  return {
    type: 'block_actions',
    user: { id: user, username: user.toLowerCase(), team_id: 'T0TEST' },
    api_app_id: 'A0TEST',
    token: 'deprecated-verification-token',
    trigger_id: triggerId(),
    team: { id: 'T0TEST', domain: 'test' },
  };
}

/** Where a click on a message happened, and where its answer goes. */
function onMessage(channel: string, messageTs: string, responseUrl: string): Json {
  return {
    container: { type: 'message', message_ts: messageTs, channel_id: channel, is_ephemeral: false },
    channel: { id: channel, name: 'runs' },
    response_url: responseUrl,
  };
}

/**
 * The block_actions payload Slack sends when `user` clicks the element `actionId` of
 * `message` (or chooses `option` in it). `blockId`/`value` override what the message holds,
 * to forge or replay a click.
 */
export function clickPayload(
  message: StubMessage,
  actionId: string | RegExp,
  options: {
    user: string;
    responseUrl: string;
    option?: string;
    value?: string;
    blockId?: string;
    selected?: Record<string, string>;
  },
): Json {
  const action = clickedAction(findElement(message, actionId), actionId, options, `message ${message.ts}`);
  return {
    ...blockActionsEnvelope(options.user),
    ...onMessage(message.channel, message.ts, options.responseUrl),
    message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks },
    state: { values: menuState(message, { ...options.selected, ...chosen(action) }) },
    actions: [action],
  };
}

/** The option a click on a select chose, by action id. */
function chosen(action: Json): Record<string, string> {
  const option = action.selected_option as { value?: string } | undefined;
  return option?.value ? { [String(action.action_id)]: option.value } : {};
}

/**
 * `state.values` as Slack sends them with every click on a message: each menu's current
 * selection, by block_id and action_id — its initial option, or what the person chose in it
 * since (`selected`, by action id) even if the message was not redrawn yet.
 */
export function menuState(message: Pick<StubMessage, 'blocks'>, selected: Record<string, string> = {}): Json {
  const values: Record<string, Record<string, Json>> = {};
  for (const { block, element } of elements(message.blocks)) {
    if (element.type !== 'static_select') continue;
    const id = String(element.action_id);
    const initial = (element.initial_option as { value?: string } | undefined)?.value;
    const value = selected[id] ?? initial;
    const blockId = String(block.block_id);
    values[blockId] ??= {};
    values[blockId][id] = {
      type: 'static_select',
      selected_option: value ? { text: { type: 'plain_text', text: value }, value } : null,
    };
  }
  return values;
}

/**
 * The block_actions payload when `user` chooses `value` in the select `actionId` of block
 * `blockId` on the message `messageTs`, built from those ids alone: without the `message`
 * Slack adds, as the bench sends it at a fixed rate (its figures were measured so).
 */
export function selectPayload(o: {
  user: string;
  channel: string;
  messageTs: string;
  blockId: string;
  actionId: string;
  value: string;
  responseUrl: string;
}): Json {
  const element = { type: 'static_select', action_id: o.actionId };
  const action = clickedAction({ blockId: o.blockId, element }, o.actionId, { option: o.value }, 'a select');
  return {
    ...blockActionsEnvelope(o.user),
    ...onMessage(o.channel, o.messageTs, o.responseUrl),
    actions: [action],
  };
}

// ── views (modals and the Home tab) ─────────────────────────────────────────

/** A view as the stub holds it (views.open/push/update bodies plus the id it was given). */
export type StubView = Record<string, unknown> & { id: string };

/** What one input holds in `view.state.values`: typed text, a chosen option's value, or a picked conversation. */
export type InputValue = string | { option: string } | { conversation: string } | null;

/**
 * `view.state.values` as Slack sends them for `inputs` (block_id → value), each input's
 * element found in the view so its type and action_id are the real ones.
 */
export function stateValues(view: StubView, inputs: Record<string, InputValue>): Json {
  const values: Json = {};
  for (const block of (view.blocks as Json[]) ?? []) {
    if (block.type !== 'input') continue;
    const element = block.element as Json;
    const id = String(block.block_id);
    const given = id in inputs ? inputs[id] : undefined;
    const actionId = String(element.action_id);
    if (element.type === 'static_select' || element.type === 'radio_buttons') {
      const initial = (element.initial_option as Json | undefined)?.value;
      const value =
        given && typeof given === 'object' && 'option' in given
          ? given.option
          : (initial as string | undefined);
      values[id] = {
        [actionId]: {
          type: element.type,
          selected_option: value ? { text: { type: 'plain_text', text: value }, value } : null,
        },
      };
    } else if (element.type === 'conversations_select') {
      const picked =
        given && typeof given === 'object' && 'conversation' in given
          ? given.conversation
          : ((element.initial_conversation as string | undefined) ?? null);
      values[id] = { [actionId]: { type: 'conversations_select', selected_conversation: picked } };
    } else {
      const value = given === undefined ? ((element.initial_value as string | undefined) ?? null) : given;
      values[id] = {
        [actionId]: { type: String(element.type), value: typeof value === 'string' ? value : null },
      };
    }
  }
  return values;
}

/** A payload's `view`: the view as the stub holds it, with what Slack adds (its state among them). */
function viewOf(view: StubView, values: Json, rootViewId = view.id): Json {
  return {
    id: view.id,
    team_id: 'T0TEST',
    type: view.type,
    blocks: view.blocks,
    private_metadata: view.private_metadata ?? '',
    state: { values },
    hash: `${Date.now()}.hash`,
    root_view_id: rootViewId,
    app_id: 'A0TEST',
  };
}

/** The view_submission payload when `user` presses Submit on `view` with `inputs` filled in. */
export function viewSubmissionPayload(
  view: StubView,
  options: {
    user: string;
    inputs?: Record<string, InputValue>;
    rootViewId?: string;
    previousViewId?: string;
  },
): Json {
  return {
    type: 'view_submission',
    team: { id: 'T0TEST', domain: 'test' },
    user: {
      id: options.user,
      username: options.user.toLowerCase(),
      name: options.user.toLowerCase(),
      team_id: 'T0TEST',
    },
    api_app_id: 'A0TEST',
    token: 'deprecated-verification-token',
    trigger_id: triggerId(),
    view: {
      ...viewOf(view, stateValues(view, options.inputs ?? {}), options.rootViewId),
      callback_id: view.callback_id,
      title: view.title,
      previous_view_id: options.previousViewId ?? null,
      bot_id: 'B0BOT',
    },
    response_urls: [],
  };
}

/** A click on element `actionId` inside a view (a modal or the Home tab), as block_actions. */
export function viewClickPayload(
  view: StubView,
  actionId: string | RegExp,
  options: { user: string; option?: string; value?: string; blockId?: string },
): Json {
  const found = findElement({ blocks: (view.blocks as unknown[]) ?? [] }, actionId);
  const action = clickedAction(found, actionId, options, `view ${view.id}`);
  return {
    ...blockActionsEnvelope(options.user),
    container: { type: 'view', view_id: view.id },
    view: { ...viewOf(view, {}), callback_id: view.callback_id ?? '' },
    actions: [action],
  };
}

// ── shortcuts ────────────────────────────────────────────────────────────────

/**
 * The message_action payload when `user` picks the message shortcut `callbackId` on
 * `message` (docs.slack.dev/reference/interaction-payloads/shortcuts-interaction-payload):
 * the message's whole structure, its channel, a response_url.
 */
export function messageShortcutPayload(o: {
  callbackId: string;
  user: string;
  channel: string;
  channelName?: string;
  message: { ts: string; text: string; user?: string; threadTs?: string; replyCount?: number };
  responseUrl: string;
}): Json {
  const { message } = o;
  return {
    type: 'message_action',
    token: 'deprecated-verification-token',
    action_ts: `${Date.now() / 1000}`,
    team: { id: 'T0TEST', domain: 'test' },
    user: { id: o.user, name: o.user.toLowerCase(), username: o.user.toLowerCase(), team_id: 'T0TEST' },
    channel: { id: o.channel, name: o.channelName ?? 'general' },
    is_enterprise_install: false,
    enterprise: null,
    callback_id: o.callbackId,
    trigger_id: triggerId(),
    response_url: o.responseUrl,
    message_ts: message.ts,
    message: {
      type: 'message',
      ts: message.ts,
      text: message.text,
      ...(message.user ? { user: message.user } : {}),
      ...(message.threadTs ? { thread_ts: message.threadTs } : {}),
      ...(message.replyCount ? { reply_count: message.replyCount, thread_ts: message.ts } : {}),
    },
  };
}

/** The shortcut payload of a global shortcut: no channel, no message, no response_url. */
export function globalShortcutPayload(o: { callbackId: string; user: string }): Json {
  return {
    type: 'shortcut',
    token: 'deprecated-verification-token',
    action_ts: `${Date.now() / 1000}`,
    team: { id: 'T0TEST', domain: 'test' },
    user: { id: o.user, username: o.user.toLowerCase(), team_id: 'T0TEST' },
    is_enterprise_install: false,
    enterprise: null,
    callback_id: o.callbackId,
    trigger_id: triggerId(),
  };
}

// ── Workflow Builder steps ───────────────────────────────────────────────────

/** An Events API callback (the body Slack posts, or an events_api envelope's payload) carrying `event`. */
function eventCallback(event: Json): Json {
  return {
    token: 'deprecated',
    team_id: 'T0TEST',
    api_app_id: 'A0TEST',
    type: 'event_callback',
    event_id: `Ev${randomBytes(4).toString('hex')}`,
    event_time: Math.floor(Date.now() / 1000),
    event,
  };
}

/**
 * The Events API callback when Workflow Builder runs one of the app's functions
 * (docs.slack.dev/reference/events/function_executed): parameters as arrays, the inputs by
 * name, and a bot_access_token (xwfp-…) for the complete calls.
 */
export function functionExecutedEvent(o: {
  callbackId: string;
  executionId: string;
  token: string;
  inputs: Record<string, unknown>;
}): Json {
  const param = (name: string, type = 'string', required = false) => ({
    type,
    name,
    title: name,
    is_required: required,
  });
  return eventCallback({
    type: 'function_executed',
    function: {
      id: 'Fn0TEST',
      callback_id: o.callbackId,
      title: 'Run a Switchboard workflow',
      description: 'Runs a Switchboard workflow',
      type: 'app',
      input_parameters: Object.keys(o.inputs).map((name) => param(name)),
      output_parameters: [param('output', 'string', true), param('run_link')],
      app_id: 'A0TEST',
      date_created: 1_700_000_000,
      date_updated: 1_700_000_000,
      date_deleted: 0,
    },
    inputs: o.inputs,
    function_execution_id: o.executionId,
    workflow_execution_id: `Wx${o.executionId.slice(2)}`,
    event_ts: `${Date.now() / 1000}`,
    bot_access_token: o.token,
  });
}

/** The Events API callback for a user opening the app's Home tab (the payload of an events_api envelope). */
export function homeOpenedEvent(user: string): Json {
  return eventCallback({
    type: 'app_home_opened',
    user,
    channel: `D0${user}`,
    tab: 'home',
    event_ts: `${Date.now() / 1000}`,
  });
}

export function homeOpenedBody(user: string): string {
  return JSON.stringify(homeOpenedEvent(user));
}

/**
 * The Events API callback for `user` joining or leaving `channel`
 * (docs.slack.dev/reference/events/member_joined_channel, member_left_channel): Slack sends
 * them for the channels the app is in.
 */
export function membershipEvent(kind: 'joined' | 'left', user: string, channel: string): Json {
  return eventCallback({
    type: kind === 'joined' ? 'member_joined_channel' : 'member_left_channel',
    user,
    channel,
    channel_type: channel.startsWith('G') ? 'G' : 'C',
    team: 'T0TEST',
    event_ts: `${Date.now() / 1000}`,
  });
}
