import type {
  AllMiddlewareArgs,
  App,
  RespondFn,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
  SlackEventMiddlewareArgs,
  webApi,
} from '@slack/bolt';
import {
  type ActionInput,
  type ActionReply,
  blockActionsSchema,
  drawnSelections,
  menuSelections,
} from './card-actions.js';
import { parseCommand, slashCommandSchema } from './command-parser.js';
import { registerControl } from './control-listeners.js';
import { type Answer, registerEditors } from './editor-listeners.js';
import { InFlight, type ListenerDeps } from './listener-deps.js';
import { ACTIONS, ALERT_RETRY_WITH_PATTERN, OOPS_MESSAGE, UNREADABLE_MESSAGE } from './views/index.js';
import type { MessagePayload } from './views/model.js';

/**
 * Bolt listeners, kept thin: ack first (Slack wants it within 3 s, and nothing here waits
 * on a provider or a post before it), check the payload with zod, call one service
 * function, and answer the user ephemerally.
 */

const OOPS = OOPS_MESSAGE;
const UNREADABLE = UNREADABLE_MESSAGE;

/** A slash command's answer given in its ack (the HTTP response): seen only by whoever typed it. */
function inAck(message: MessagePayload) {
  return { response_type: 'ephemeral' as const, text: message.text, blocks: message.blocks };
}

/** An ephemeral answer through the response_url; it never replaces the card that was clicked. */
function ephemeral(message: MessagePayload) {
  return {
    response_type: 'ephemeral' as const,
    replace_original: false,
    text: message.text,
    blocks: message.blocks,
  };
}

/**
 * A command's answer given later through its response_url (a run's parent that could not be
 * posted). Kept until the parent is posted, so it holds `respond` only, not the request.
 */
function lateAnswer(respond: RespondFn, logger: ListenerDeps['logger']) {
  return async (message: MessagePayload) => {
    await respond(ephemeral(message)).catch((error: unknown) =>
      logger.warn({ err: (error as Error).message }, 'late command answer failed'),
    );
  };
}

/**
 * A long export goes to the user privately: a YAML snippet in their direct message with the
 * bot (conversations.open + files.uploadV2, scopes im:write and files:write).
 */
async function sendFileToUser(
  client: webApi.WebClient,
  userId: string,
  file: { filename: string; content: string; title: string },
): Promise<'dm'> {
  const opened = await client.conversations.open({ users: userId });
  const channel = opened.channel?.id;
  if (!channel) throw new Error('conversations.open returned no channel');
  await client.files.uploadV2({
    channel_id: channel,
    filename: file.filename,
    title: file.title,
    content: file.content,
    snippet_type: 'yaml',
  });
  return 'dm';
}

export function registerListeners(app: App, deps: ListenerDeps): InFlight {
  const { commands, actions, home, logger } = deps;
  const inFlight = new InFlight();

  app.command(
    '/workflow',
    inFlight.wrap(async ({ ack, body, respond, client }: SlackCommandMiddlewareArgs & AllMiddlewareArgs) => {
      const parsed = slashCommandSchema.safeParse(body);
      if (!parsed.success) {
        logger.warn({ issues: parsed.error.issues.length }, 'unreadable slash command');
        await ack(inAck(UNREADABLE));
        return;
      }
      const { user_id: userId, channel_id: channelId, text, trigger_id: triggerId } = parsed.data;
      const command = parseCommand(text);
      // Answers that need no I/O go in the ack itself; everything else is acked first.
      const instant = commands.instant(command);
      if (instant) {
        await ack(inAck(instant));
        return;
      }
      await ack();
      try {
        const reply = await commands.handle(command, {
          userId,
          channelId,
          triggerId,
          respondLater: lateAnswer(respond, logger),
          openModal: async (view) => {
            // The trigger_id expires 3 s after the command: open directly, not through the publisher queue.
            if (!triggerId) throw new Error('no trigger_id to open a modal with');
            await client.views.open({ trigger_id: triggerId, view });
          },
          sendFile: (file) => sendFileToUser(client, userId, file),
        });
        if (reply) await respond(ephemeral(reply));
      } catch (error) {
        logger.error({ err: (error as Error).message, userId, channelId }, '/workflow failed');
        await respond(ephemeral(OOPS)).catch(() => {});
      }
    }),
  );

  type ActionArgs = SlackActionMiddlewareArgs & AllMiddlewareArgs;
  const onAction = (name: string, handle: (input: ActionInput) => Promise<ActionReply>) =>
    inFlight.wrap(async ({ ack, body, respond }: ActionArgs) => {
      await ack();
      const parsed = blockActionsSchema.safeParse(body);
      if (!parsed.success) {
        logger.warn({ action: name }, 'unreadable action payload');
        await answer(respond, UNREADABLE);
        return;
      }
      const action = parsed.data.actions[0]!;
      const input: ActionInput = {
        userId: parsed.data.user.id,
        channelId: parsed.data.channel?.id,
        blockId: action.block_id,
        value: action.selected_option?.value ?? action.value,
        selected: menuSelections(parsed.data, action.block_id),
        shown: drawnSelections(parsed.data.message?.blocks, action.block_id),
      };
      // Clicked on the App Home tab: no response_url and no channel, so the answer is shown on Home.
      const onHome = parsed.data.view?.type === 'home';
      try {
        const reply = await handle(input);
        if (onHome) await refreshHome(input.userId, reply);
        else if (reply) await answer(respond, reply, parsed.data.channel?.id, input.userId);
      } catch (error) {
        logger.error({ err: (error as Error).message, action: name }, 'action failed');
        if (onHome) await refreshHome(input.userId, OOPS);
        else await answer(respond, OOPS, parsed.data.channel?.id, input.userId);
      }
    });

  const refreshHome = async (userId: string, reply: ActionReply) => {
    try {
      await home.publish(userId, reply?.text);
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'publishing the Home tab failed');
    }
  };

  /** Through response_url when Slack gave one, else chat.postEphemeral. */
  const answer: Answer = async (
    respond: RespondFn | undefined,
    message: MessagePayload,
    channel?: string,
    user?: string,
  ) => {
    try {
      if (respond) await respond(ephemeral(message));
      else if (channel && user) {
        await deps.publisher.call('chat.postEphemeral', {
          channel,
          user,
          text: message.text,
          blocks: message.blocks,
        });
      }
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'ephemeral answer failed');
    }
  };

  const clicks: [id: string | RegExp, name: string, handle: (input: ActionInput) => Promise<ActionReply>][] =
    [
      [ACTIONS.selectModel, 'select model', (i) => actions.selectModel(i)],
      [ACTIONS.selectPersona, 'select persona', (i) => actions.selectPersona(i)],
      [ACTIONS.retry, 'retry', (i) => actions.retry(i)],
      [ACTIONS.runPause, 'pause', (i) => actions.runControl('pause', i)],
      [ACTIONS.runResume, 'resume', (i) => actions.runControl('resume', i)],
      [ACTIONS.runCancel, 'cancel', (i) => actions.runControl('cancel', i)],
      [ALERT_RETRY_WITH_PATTERN, 'retry with', (i) => actions.retryWith(i)],
    ];
  for (const [id, name, handle] of clicks) app.action(id, onAction(name, handle));

  app.action(
    ACTIONS.viewOutput,
    inFlight.wrap(async ({ ack, body, respond, client }: ActionArgs) => {
      await ack();
      const parsed = blockActionsSchema.safeParse(body);
      const action = parsed.success ? parsed.data.actions[0] : undefined;
      if (!parsed.success || !action || !parsed.data.trigger_id) {
        await answer(respond, UNREADABLE);
        return;
      }
      try {
        const view = await actions.fullOutput({ userId: parsed.data.user.id, value: action.value });
        // The trigger_id expires 3 s after the click: open the modal directly, not through the publisher queue.
        if ('type' in view && view.type === 'modal')
          await client.views.open({ trigger_id: parsed.data.trigger_id, view });
        else await answer(respond, view as MessagePayload, parsed.data.channel?.id, parsed.data.user.id);
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'opening the output failed');
        await answer(respond, OOPS, parsed.data.channel?.id, parsed.data.user.id);
      }
    }),
  );

  app.event(
    'app_home_opened',
    inFlight.wrap(async ({ event }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs) => {
      if (event.tab !== 'home') return;
      try {
        await home.publish(event.user);
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'publishing the Home tab failed');
      }
    }),
  );

  // Someone joined or left a channel the bot is in: who may see its runs changed now, not at
  // the end of the membership cache's TTL.
  const membershipChanged = inFlight.wrap(async ({ event }: { event: { channel?: unknown } }) => {
    if (typeof event.channel === 'string') deps.membership.forget(event.channel);
  });
  app.event('member_joined_channel', membershipChanged);
  app.event('member_left_channel', membershipChanged);

  registerEditors(app, deps, inFlight, answer);
  registerControl(app, deps, inFlight, answer);

  app.error(async (error) => {
    logger.error({ err: error.message, code: (error as { code?: string }).code }, 'Slack app error');
  });
  return inFlight;
}
