import type {
  AllMiddlewareArgs,
  App,
  SlackShortcutMiddlewareArgs,
  SlackViewMiddlewareArgs,
} from '@slack/bolt';
import type { Logger } from '../logging.js';
import type { InFlight } from './listener-deps.js';
import {
  globalShortcutSchema,
  messageShortcutSchema,
  runSubmissionSchema,
  type ShortcutService,
} from './shortcuts.js';
import {
  CALLBACKS,
  parseRunSource,
  RUN_FIELDS,
  runRefusedModal,
  runStartingModal,
  SHORTCUTS,
} from './views/index.js';

/**
 * The "Run a workflow…" shortcuts and their modal, kept thin: ack, open the modal (the
 * trigger_id lasts 3 s, so views.open goes straight out), and on submit answer the checks
 * in the ack, then read and start after it and show the outcome in the same modal.
 */
export function registerShortcuts(
  app: App,
  deps: { shortcuts: ShortcutService; logger: Logger },
  inFlight: InFlight,
): void {
  const { shortcuts, logger } = deps;
  type ShortcutArgs = SlackShortcutMiddlewareArgs & AllMiddlewareArgs;

  const opener = (kind: 'message' | 'global') =>
    inFlight.wrap(async ({ ack, body, client }: ShortcutArgs) => {
      await ack();
      const message = kind === 'message' ? messageShortcutSchema.safeParse(body) : undefined;
      const global = kind === 'global' ? globalShortcutSchema.safeParse(body) : undefined;
      const triggerId = message?.data?.trigger_id ?? global?.data?.trigger_id;
      if (!triggerId) {
        logger.warn({ kind }, 'unreadable shortcut payload');
        return;
      }
      try {
        const source = message?.data
          ? shortcuts.sourceOfMessage(message.data)
          : { kind: 'global' as const, user: global!.data!.user.id };
        await client.views.open({ trigger_id: triggerId, view: await shortcuts.open(source) });
      } catch (error) {
        logger.error({ err: (error as Error).message, kind }, 'opening "Run a workflow" failed');
      }
    });

  app.shortcut({ type: 'message_action', callback_id: SHORTCUTS.fromMessage }, opener('message'));
  app.shortcut({ type: 'shortcut', callback_id: SHORTCUTS.global }, opener('global'));

  app.view(
    CALLBACKS.runWorkflow,
    inFlight.wrap(async ({ ack, body, client }: SlackViewMiddlewareArgs & AllMiddlewareArgs) => {
      const parsed = runSubmissionSchema.safeParse(body);
      const source = parsed.success ? parseRunSource(parsed.data.view.private_metadata) : undefined;
      if (!parsed.success || !source) {
        await ack({
          response_action: 'errors',
          errors: { [RUN_FIELDS.workflow]: 'Slack sent something I could not read; nothing was started.' },
        });
        return;
      }
      const { view, user } = parsed.data;
      let checked: Awaited<ReturnType<ShortcutService['check']>>;
      try {
        checked = await shortcuts.check(user.id, source, view.state.values);
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'checking "Run a workflow" failed');
        await ack({
          response_action: 'errors',
          errors: { [RUN_FIELDS.workflow]: 'Something went wrong on our side; nothing was started.' },
        });
        return;
      }
      if ('errors' in checked) {
        await ack({ response_action: 'errors', errors: checked.errors });
        return;
      }
      const { request } = checked;
      await ack({
        response_action: 'update',
        view: runStartingModal(request.workflow, source.kind === 'message' && source.whole),
      });
      let outcome: Awaited<ReturnType<ShortcutService['start']>>;
      try {
        outcome = await shortcuts.start(request, view.id);
      } catch (error) {
        logger.error({ err: (error as Error).message }, 'starting a run from a shortcut failed');
        outcome = runRefusedModal(
          'Something went wrong on our side; the details are in the Switchboard log.',
        );
      }
      await client.views
        .update({ view_id: view.id, view: outcome })
        .catch((error: unknown) =>
          logger.warn({ err: (error as Error).message }, 'showing the outcome of "Run a workflow" failed'),
        );
    }),
  );
}
