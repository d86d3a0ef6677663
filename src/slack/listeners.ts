import type {
  AllMiddlewareArgs,
  App,
  RespondFn,
  SlackActionMiddlewareArgs,
  SlackCommandMiddlewareArgs,
  SlackEventMiddlewareArgs,
  SlackViewMiddlewareArgs,
  webApi,
} from '@slack/bolt';
import type { Logger } from '../logging.js';
import { type ActionInput, type ActionReply, type ActionService, blockActionsSchema } from './actions.js';
import { type AuthoringService, type EditorResult, viewSubmissionSchema } from './authoring.js';
import { type CommandService, parseCommand, slashCommandSchema } from './commands.js';
import type { HomeTab } from './home.js';
import type { Publisher } from './publisher.js';
import {
  ACTIONS,
  ALERT_RETRY_WITH_PATTERN,
  CALLBACKS,
  errorMessage,
  type ModalView,
  parseEditorMetadata,
  parsePersonaMetadata,
  parseRunBlockId,
  parseStepEditorMetadata,
  parseStepOperation,
  RUN_MORE_EDIT,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';

/**
 * Bolt listeners, kept thin: ack first (Slack wants it within 3 s, and nothing here waits
 * on a provider or a post before it), check the payload with zod, call one service
 * function, and answer the user ephemerally.
 */

export interface ListenerDeps {
  commands: CommandService;
  actions: ActionService;
  authoring: AuthoringService;
  home: HomeTab;
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

/** A modal that only says something (a refusal where no ephemeral message can go). */
function noticeModal(message: MessagePayload): ModalView {
  return {
    type: 'modal',
    title: { type: 'plain_text', text: 'Switchboard' },
    close: { type: 'plain_text', text: 'Close' },
    blocks: message.blocks,
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
    inFlight.wrap(async ({ event }: SlackEventMiddlewareArgs<'app_home_opened'> & AllMiddlewareArgs) => {
      if (event.tab !== 'home') return;
      try {
        await home.publish(event.user);
      } catch (error) {
        logger.warn({ err: (error as Error).message }, 'publishing the Home tab failed');
      }
    }),
  );

  registerAuthoring(app, deps, inFlight, answer);

  app.error(async (error) => {
    logger.error({ err: error.message, code: (error as { code?: string }).code }, 'Slack app error');
  });
  return inFlight;
}

type Answer = (
  respond: RespondFn | undefined,
  message: MessagePayload,
  channel?: string,
  user?: string,
) => Promise<void>;

/**
 * The workflow editor (from a run's "Edit workflow" or `/workflow edit`), its step editor,
 * and the persona editor. Clicks are acked first; a submission is answered only after it was
 * validated and saved (database work only, well inside Slack's 3 s), because its errors go
 * back in the ack (`response_action: errors`).
 */
function registerAuthoring(app: App, deps: ListenerDeps, inFlight: InFlight, answer: Answer): void {
  const { authoring, logger } = deps;
  type ActionArgs = SlackActionMiddlewareArgs & AllMiddlewareArgs;

  app.action(
    ACTIONS.runMore,
    inFlight.wrap(async ({ ack, body, respond, client }: ActionArgs) => {
      await ack();
      const parsed = blockActionsSchema.safeParse(body);
      const action = parsed.success ? parsed.data.actions[0] : undefined;
      const run = parseRunBlockId(action?.block_id);
      if (
        !parsed.success ||
        !run ||
        action?.selected_option?.value !== RUN_MORE_EDIT ||
        !parsed.data.trigger_id
      ) {
        await answer(respond, UNREADABLE);
        return;
      }
      const { user, channel, trigger_id: triggerId } = parsed.data;
      try {
        const row = await deps.commands.workflowOfRun(run.runId);
        const opened = row
          ? await authoring.openEditor(row, user.id)
          : { refusal: errorMessage('That run no longer exists.') };
        if ('refusal' in opened) await answer(respond, opened.refusal, channel?.id, user.id);
        else await client.views.open({ trigger_id: triggerId, view: opened.view });
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'opening the workflow editor failed');
        await answer(respond, OOPS, channel?.id, user.id);
      }
    }),
  );

  const onEditor = (
    name: string,
    handle: (args: {
      meta: NonNullable<ReturnType<typeof parseEditorMetadata>>;
      value: string | undefined;
      userId: string;
    }) => Promise<EditorResult | undefined>,
  ) =>
    inFlight.wrap(async ({ ack, body, client }: ActionArgs) => {
      await ack();
      const parsed = blockActionsSchema.safeParse(body);
      const view = parsed.success ? parsed.data.view : undefined;
      const meta = parseEditorMetadata(view?.private_metadata);
      const action = parsed.success ? parsed.data.actions[0] : undefined;
      if (!parsed.success || !view || !meta || !action) {
        logger.warn({ action: name }, 'unreadable editor action');
        return;
      }
      try {
        const result = await handle({
          meta,
          value: action.selected_option?.value ?? action.value,
          userId: parsed.data.user.id,
        });
        if (!result) return;
        if ('push' in result) {
          if (!parsed.data.trigger_id) return;
          await client.views.push({ trigger_id: parsed.data.trigger_id, view: result.push });
        } else {
          const next = 'update' in result ? result.update : noticeModal(result.refusal);
          await client.views.update({ view_id: view.id, view: next });
        }
      } catch (error) {
        logger.error({ err: (error as Error).message, action: name }, 'workflow editor action failed');
        await client.views.update({ view_id: view.id, view: noticeModal(OOPS) }).catch(() => {});
      }
    });

  app.action(
    ACTIONS.editorStep,
    onEditor('editor step', async ({ meta, value, userId }) => {
      const choice = parseStepOperation(value);
      return choice ? authoring.onStepOperation(meta, choice.op, choice.index, userId) : undefined;
    }),
  );
  app.action(
    ACTIONS.editorAdd,
    onEditor('editor add', ({ meta, userId }) => authoring.onAddStep(meta, userId)),
  );

  type ViewArgs = SlackViewMiddlewareArgs & AllMiddlewareArgs;
  const UNSAVED =
    'Something went wrong on our side and nothing was saved. The details are in the Switchboard log.';

  app.view(
    CALLBACKS.stepEditor,
    inFlight.wrap(async ({ ack, body, client }: ViewArgs) => {
      const parsed = viewSubmissionSchema.safeParse(body);
      const meta = parsed.success ? parseStepEditorMetadata(parsed.data.view.private_metadata) : undefined;
      if (!parsed.success || !meta) {
        await ack({
          response_action: 'errors',
          errors: { name: 'Slack sent something I could not read; nothing was saved.' },
        });
        return;
      }
      const { view, user } = parsed.data;
      let result: Awaited<ReturnType<AuthoringService['submitStep']>>;
      try {
        result = await authoring.submitStep(meta, view.state.values, user.id);
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'saving a step failed');
        await ack({
          response_action: 'errors',
          errors: { [view.state.values.prompt ? 'prompt' : 'name']: UNSAVED },
        });
        return;
      }
      if ('errors' in result) {
        await ack({ response_action: 'errors', errors: result.errors });
        return;
      }
      // Closes the step editor; the workflow editor under it is redrawn with the new version.
      await ack();
      const root = view.root_view_id ?? view.previous_view_id;
      if (root && result.editor) {
        await client.views
          .update({ view_id: root, view: result.editor })
          .catch((error: unknown) =>
            logger.warn({ err: (error as Error).message }, 'redrawing the workflow editor failed'),
          );
      }
    }),
  );

  app.view(
    CALLBACKS.persona,
    inFlight.wrap(async ({ ack, body }: ViewArgs) => {
      const parsed = viewSubmissionSchema.safeParse(body);
      const meta = parsed.success ? parsePersonaMetadata(parsed.data.view.private_metadata) : undefined;
      const first = meta?.name ? 'system' : 'name';
      if (!parsed.success || !meta) {
        await ack({
          response_action: 'errors',
          errors: { [first]: 'Slack sent something I could not read; nothing was saved.' },
        });
        return;
      }
      try {
        const result = await authoring.submitPersona(
          meta,
          parsed.data.view.state.values,
          parsed.data.user.id,
        );
        if ('errors' in result) await ack({ response_action: 'errors', errors: result.errors });
        else if (result.confirmation) await ack({ response_action: 'update', view: result.confirmation });
        else await ack();
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'saving a persona failed');
        await ack({ response_action: 'errors', errors: { [first]: UNSAVED } });
      }
    }),
  );
}
