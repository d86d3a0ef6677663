import type {
  AllMiddlewareArgs,
  App,
  RespondFn,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
  SlackEventMiddlewareArgs,
} from '@slack/bolt';
import type { Logger } from '../logging.js';
import { type ActionInput, type ActionReply, type ActionService, blockActionsSchema } from './actions.js';
import { type CommandService, parseCommand, slashCommandSchema } from './commands.js';
import type { Publisher } from './publisher.js';
import { ACTIONS, ALERT_RETRY_WITH_PATTERN, errorMessage } from './views/index.js';
import type { MessagePayload } from './views/model.js';

/**
 * Bolt listeners, kept thin: ack first (Slack wants it within 3 s, and nothing here waits
 * on a provider or a post before it), check the payload with zod, call one service
 * function, and answer the user ephemerally.
 */

export interface ListenerDeps {
  commands: CommandService;
  actions: ActionService;
  publisher: Publisher;
  logger: Logger;
}

const OOPS = errorMessage(
  'Something went wrong on our side and nothing was changed. The details are in the Switchboard log.',
);
const UNREADABLE = errorMessage('Slack sent something I could not read, so nothing was changed.');

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
 * Listener work still running after its ack (a run being started, a step being switched).
 * Shutdown waits for it before stopping the engine; tests wait for it to see the effect.
 */
export class InFlight {
  private readonly running = new Set<Promise<unknown>>();

  wrap<A>(handler: (args: A) => Promise<void>): (args: A) => Promise<void> {
    return (args) => {
      const work = handler(args);
      this.running.add(work);
      const done = () => this.running.delete(work);
      work.then(done, done);
      return work;
    };
  }

  isIdle(): boolean {
    return this.running.size === 0;
  }

  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }
}

export function registerListeners(app: App, deps: ListenerDeps): InFlight {
  const { commands, actions, logger } = deps;
  const inFlight = new InFlight();

  app.command(
    '/workflow',
    inFlight.wrap(async ({ ack, body, respond }: SlackCommandMiddlewareArgs & AllMiddlewareArgs) => {
      await ack();
      const parsed = slashCommandSchema.safeParse(body);
      if (!parsed.success) {
        logger.warn({ issues: parsed.error.issues.length }, 'unreadable slash command');
        await respond(ephemeral(UNREADABLE)).catch(() => {});
        return;
      }
      const { user_id: userId, channel_id: channelId, text, trigger_id: triggerId } = parsed.data;
      try {
        const reply = await commands.handle(parseCommand(text), {
          userId,
          channelId,
          triggerId,
          respondLater: async (message) => {
            await respond(ephemeral(message)).catch((error: unknown) =>
              logger.warn({ err: (error as Error).message }, 'late command answer failed'),
            );
          },
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
      };
      try {
        const reply = await handle(input);
        if (reply) await answer(respond, reply, parsed.data.channel?.id, input.userId);
      } catch (error) {
        logger.error({ err: (error as Error).message, action: name }, 'action failed');
        await answer(respond, OOPS, parsed.data.channel?.id, input.userId);
      }
    });

  /** Through response_url when Slack gave one, else chat.postEphemeral. */
  const answer = async (
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

  app.action(
    ACTIONS.selectModel,
    onAction('select model', (i) => actions.selectModel(i)),
  );
  app.action(
    ACTIONS.selectPersona,
    onAction('select persona', (i) => actions.selectPersona(i)),
  );
  app.action(
    ACTIONS.retry,
    onAction('retry', (i) => actions.retry(i)),
  );
  app.action(
    ACTIONS.runPause,
    onAction('pause', (i) => actions.runControl('pause', i)),
  );
  app.action(
    ACTIONS.runResume,
    onAction('resume', (i) => actions.runControl('resume', i)),
  );
  app.action(
    ACTIONS.runCancel,
    onAction('cancel', (i) => actions.runControl('cancel', i)),
  );
  app.action(
    ALERT_RETRY_WITH_PATTERN,
    onAction('retry with', (i) => actions.retryWith(i)),
  );

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
        const view = await actions.fullOutput({ value: action.value });
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
    inFlight.wrap(
      async ({ event, client }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs) => {
        if (event.tab !== 'home') return;
        try {
          const blocks = await commands.homeBlocks(event.user);
          await client.views.publish({ user_id: event.user, view: { type: 'home', blocks } });
        } catch (error) {
          logger.warn({ err: (error as Error).message }, 'publishing the Home tab failed');
        }
      },
    ),
  );

  app.error(async (error) => {
    logger.error({ err: error.message, code: (error as { code?: string }).code }, 'Slack app error');
  });
  return inFlight;
}
