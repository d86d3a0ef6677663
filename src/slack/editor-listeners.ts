import type {
  AllMiddlewareArgs,
  App,
  RespondFn,
  SlackActionMiddlewareArgs,
  SlackViewMiddlewareArgs,
} from '@slack/bolt';
import { blockActionsSchema } from './card-actions.js';
import type { InFlight, ListenerDeps } from './listener-deps.js';
import {
  ACTIONS,
  CALLBACKS,
  errorMessage,
  type ModalView,
  OOPS_MESSAGE as OOPS,
  parseEditorMetadata,
  parsePersonaMetadata,
  parseRunBlockId,
  parseStepEditorMetadata,
  parseStepOperation,
  RUN_MORE_EDIT,
  UNREADABLE_MESSAGE as UNREADABLE,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';
import { type AuthoringService, type EditorResult, viewSubmissionSchema } from './workflow-editor.js';

/** A modal that only says something (a refusal where no ephemeral message can go). */
function noticeModal(message: MessagePayload): ModalView {
  return {
    type: 'modal',
    title: { type: 'plain_text', text: 'Switchboard' },
    close: { type: 'plain_text', text: 'Close' },
    blocks: message.blocks,
  };
}

export type Answer = (
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
export function registerEditors(app: App, deps: ListenerDeps, inFlight: InFlight, answer: Answer): void {
  const { authoring, personas, logger } = deps;
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
  app.action(
    ACTIONS.editorBudget,
    onEditor('editor budget', ({ meta, userId }) => authoring.onBudget(meta, userId)),
  );

  type ViewArgs = SlackViewMiddlewareArgs & AllMiddlewareArgs;
  const UNSAVED =
    'Something went wrong on our side and nothing was saved. The details are in the Switchboard log.';

  type Values = Parameters<AuthoringService['submitStep']>[1];
  type Submitted = Awaited<ReturnType<AuthoringService['submitStep']>>;

  /**
   * A modal stacked on the workflow editor (a step, the budget): saved through `submit`;
   * on success it closes and the editor under it is redrawn with the new version.
   * `field` names the block an error is shown under when there is no better one (given
   * no values: the first block).
   */
  const onEditorSubmit = <M>(
    callback: string,
    what: string,
    parse: (privateMetadata: string) => M | undefined,
    field: (values: Values) => string,
    submit: (meta: M, values: Values, userId: string) => Promise<Submitted>,
  ) =>
    app.view(
      callback,
      inFlight.wrap(async ({ ack, body, client }: ViewArgs) => {
        const parsed = viewSubmissionSchema.safeParse(body);
        const meta = parsed.success ? parse(parsed.data.view.private_metadata) : undefined;
        if (!parsed.success || !meta) {
          await ack({
            response_action: 'errors',
            errors: { [field({})]: 'Slack sent something I could not read; nothing was saved.' },
          });
          return;
        }
        const { view, user } = parsed.data;
        let result: Submitted;
        try {
          result = await submit(meta, view.state.values, user.id);
        } catch (error) {
          logger.error({ err: (error as Error).message }, `saving ${what} failed`);
          await ack({ response_action: 'errors', errors: { [field(view.state.values)]: UNSAVED } });
          return;
        }
        if ('errors' in result) {
          await ack({ response_action: 'errors', errors: result.errors });
          return;
        }
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

  onEditorSubmit(
    CALLBACKS.stepEditor,
    'a step',
    parseStepEditorMetadata,
    (values) => (values.prompt ? 'prompt' : 'name'),
    (meta, values, userId) => authoring.submitStep(meta, values, userId),
  );
  onEditorSubmit(
    CALLBACKS.budgetEditor,
    'a budget',
    parseEditorMetadata,
    () => 'per_run_usd',
    (meta, values, userId) => authoring.submitBudget(meta, values, userId),
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
        const result = await personas.submit(meta, parsed.data.view.state.values, parsed.data.user.id);
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
