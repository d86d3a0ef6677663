import type { AllMiddlewareArgs, App, SlackEventMiddlewareArgs } from '@slack/bolt';
import type { Logger } from '../logging.js';
import { RUN_WORKFLOW_FUNCTION } from './function-manifest.js';
import { type FunctionSteps, functionExecutedSchema } from './function-steps.js';
import type { InFlight } from './listener-deps.js';

/**
 * Workflow Builder steps: the generic "Run a Switchboard workflow" through Bolt's
 * `app.function`, and the per-workflow steps (`workflow_<name>`, `npm run workflow --
 * functions`) through the `function_executed` event they share. The run is recorded and
 * started before the ack (database work only), so a delivery Slack retries finds it; a
 * refusal fails the step at once with words Workflow Builder shows. The outcome of a run
 * that started is told later, when it ends (FunctionSteps).
 */
export function registerFunctionSteps(
  app: App,
  deps: { steps: FunctionSteps; logger: Logger },
  inFlight: InFlight,
): void {
  const { steps, logger } = deps;
  type Args = SlackEventMiddlewareArgs<'function_executed'> & AllMiddlewareArgs;

  const handle = async ({ ack, event, fail }: Args) => {
    const parsed = functionExecutedSchema.safeParse(event);
    if (!parsed.success) {
      await ack();
      logger.warn({ issues: parsed.error.issues.length }, 'unreadable function_executed event');
      await fail({ error: 'Switchboard could not read this step’s event; nothing was started.' }).catch(
        () => {},
      );
      return;
    }
    let outcome: Awaited<ReturnType<FunctionSteps['start']>>;
    try {
      outcome = await steps.start(parsed.data);
    } catch (error) {
      // Not acked: Slack delivers the event again, and the record makes that idempotent.
      logger.error({ err: (error as Error).message }, 'starting a Workflow Builder step failed');
      return;
    }
    await ack();
    if (!outcome.started) {
      await fail({ error: outcome.error }).catch((error: unknown) =>
        logger.warn({ err: (error as Error).message }, 'failing a Workflow Builder step failed'),
      );
    }
  };

  app.function(RUN_WORKFLOW_FUNCTION, { autoAcknowledge: false }, inFlight.wrap(handle));
  app.event(
    'function_executed',
    inFlight.wrap(async (args: Args) => {
      // The generic step has its own listener above; every other callback_id is a per-workflow step.
      if (args.event.function.callback_id === RUN_WORKFLOW_FUNCTION) return;
      await handle(args);
    }),
  );
}
