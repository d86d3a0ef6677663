import type { AllMiddlewareArgs, App, SlackActionMiddlewareArgs, SlackViewMiddlewareArgs } from '@slack/bolt';
import { type ActionInput, blockActionsSchema } from './card-actions.js';
import type { ControlActions, ControlSubmit } from './control-actions.js';
import type { Answer } from './editor-listeners.js';
import type { InFlight, ListenerDeps } from './listener-deps.js';
import {
  ACTIONS,
  CALLBACKS,
  type ModalView,
  OOPS_MESSAGE as OOPS,
  parseStepModalMetadata,
  type StepModalMetadata,
  UNREADABLE_MESSAGE as UNREADABLE,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';
import { viewSubmissionSchema } from './workflow-editor.js';

/**
 * Bolt listeners for team control (docs/control.md), thin like the others: ack, parse with
 * zod, call one ControlActions method, answer. Buttons that open a modal do so with the
 * click's trigger_id (valid for 3 s, so directly, not through the publisher's queue);
 * submissions answer in their ack (`response_action: errors`) after a database-only check.
 */
export function registerControl(
  app: App,
  deps: ListenerDeps & { control: ControlActions },
  inFlight: InFlight,
  answer: Answer,
): void {
  const { control, logger } = deps;
  type ActionArgs = SlackActionMiddlewareArgs & AllMiddlewareArgs;

  const parse = (body: unknown) => {
    const parsed = blockActionsSchema.safeParse(body);
    if (!parsed.success) return undefined;
    const action = parsed.data.actions[0]!;
    const input: ActionInput = {
      userId: parsed.data.user.id,
      channelId: parsed.data.channel?.id,
      blockId: action.block_id,
      value: action.selected_option?.value ?? action.value,
    };
    return { data: parsed.data, input };
  };

  const onClick = (name: string, handle: (input: ActionInput) => Promise<MessagePayload | undefined>) =>
    inFlight.wrap(async ({ ack, body, respond }: ActionArgs) => {
      await ack();
      const parsed = parse(body);
      if (!parsed) {
        await answer(respond, UNREADABLE);
        return;
      }
      const { data, input } = parsed;
      try {
        const reply = await handle(input);
        if (reply) {
          if (data.view?.type === 'home') await deps.home.publish(input.userId, reply.text);
          else await answer(respond, reply, data.channel?.id, input.userId);
        }
      } catch (error) {
        logger.error({ err: (error as Error).message, action: name }, 'action failed');
        await answer(respond, OOPS, data.channel?.id, input.userId);
      }
    });

  const onOpen = (
    name: string,
    open: (input: ActionInput) => Promise<{ view: ModalView } | { refusal: MessagePayload }>,
  ) =>
    inFlight.wrap(async ({ ack, body, respond, client }: ActionArgs) => {
      await ack();
      const parsed = parse(body);
      if (!parsed?.data.trigger_id) {
        await answer(respond, UNREADABLE);
        return;
      }
      const { data, input } = parsed;
      try {
        const opened = await open(input);
        if ('view' in opened) await client.views.open({ trigger_id: data.trigger_id!, view: opened.view });
        else if (data.view?.type === 'home') await deps.home.publish(input.userId, opened.refusal.text);
        else await answer(respond, opened.refusal, data.channel?.id, input.userId);
      } catch (error) {
        logger.error({ err: (error as Error).message, action: name }, 'opening a modal failed');
        await answer(respond, OOPS, data.channel?.id, input.userId);
      }
    });

  app.action(
    ACTIONS.approve,
    onClick('approve', (i) => control.approve(i)),
  );
  app.action(
    ACTIONS.raiseBudget,
    onClick('raise budget', (i) => control.raiseBudget(i)),
  );
  const modals: [id: string, name: string, open: Parameters<typeof onOpen>[1]][] = [
    [ACTIONS.approveEdit, 'edit output', (i) => control.openEdit(i)],
    [ACTIONS.approveReject, 'reject', (i) => control.openReject(i)],
    [ACTIONS.rerun, 'rerun', (i) => control.openRerun(i)],
  ];
  for (const [id, name, open] of modals) app.action(id, onOpen(name, open));

  type ViewArgs = SlackViewMiddlewareArgs & AllMiddlewareArgs;
  const UNSAVED =
    'Something went wrong on our side and nothing was changed. The details are in the Switchboard log.';

  const onSubmit = (
    callback: string,
    firstBlock: (values: Record<string, unknown>) => string,
    submit: (
      meta: StepModalMetadata,
      values: Parameters<ControlActions['submitEdit']>[1],
      user: { userId: string; viewId: string },
    ) => Promise<ControlSubmit>,
  ) =>
    app.view(
      callback,
      inFlight.wrap(async ({ ack, body }: ViewArgs) => {
        const parsed = viewSubmissionSchema.safeParse(body);
        const meta = parsed.success ? parseStepModalMetadata(parsed.data.view.private_metadata) : undefined;
        const values = parsed.success ? parsed.data.view.state.values : {};
        const first = firstBlock(values);
        if (!parsed.success || !meta) {
          await ack({
            response_action: 'errors',
            errors: { [first]: 'Slack sent something I could not read; nothing was changed.' },
          });
          return;
        }
        try {
          const result = await submit(meta, parsed.data.view.state.values, {
            userId: parsed.data.user.id,
            viewId: parsed.data.view.id,
          });
          if ('errors' in result) await ack({ response_action: 'errors', errors: result.errors });
          else if (result.confirmation) await ack({ response_action: 'update', view: result.confirmation });
          else await ack();
        } catch (error) {
          logger.error({ err: (error as Error).message, callback }, 'a team-control submission failed');
          await ack({ response_action: 'errors', errors: { [first]: UNSAVED } });
        }
      }),
    );

  onSubmit(
    CALLBACKS.approvalEdit,
    () => 'output',
    (meta, values, user) => control.submitEdit(meta, values, user.userId),
  );
  onSubmit(
    CALLBACKS.approvalReject,
    () => 'reason',
    (meta, values, user) => control.submitReject(meta, values, user.userId),
  );
  onSubmit(
    CALLBACKS.rerun,
    (values) => Object.keys(values)[0] ?? 'rerun-head',
    (meta, values, user) => control.submitRerun(meta, values, user),
  );
}
