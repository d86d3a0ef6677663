import { z } from 'zod';
import { type Clock, nowMs, systemClock } from '../core/clock.js';
import type { EngineEventBus } from '../core/events.js';
import { type RunStatus, TERMINAL_RUN } from '../core/states.js';
import { executionOfRunKey, type FunctionStore, functionRunKey } from '../db/function-store.js';
import type { RunStore } from '../db/run-store.js';
import type { WorkflowStore } from '../db/workflow-store.js';
import { EngineError } from '../engine/engine-error.js';
import type { RunsService } from '../engine/runs.js';
import type { Logger } from '../logging.js';
import { RUN_WORKFLOW_FUNCTION, workflowOfFunction } from './function-manifest.js';
import { mayRunWorkflow, type PermissionPolicy } from './permissions.js';
import type { Publisher } from './publisher.js';
import { SlackCallError } from './publisher.js';
import { parentKey } from './renderer.js';
import { isSlackTs } from './view-model.js';
import { describeError } from './views/index.js';

/**
 * Workflows as Workflow Builder steps (docs/slack.md). A `function_executed` event starts
 * the run; the step then waits in Workflow Builder, through pauses and rescues, until the
 * run ends: completed → functions.completeSuccess with its final output and a link to its
 * thread; failed or cancelled → functions.completeError with the reason; still unfinished
 * after SLACK_FUNCTION_TIMEOUT_MINUTES → the run is cancelled and the step fails with that
 * reason. Slack expects both calls with the event's bot_access_token (bolt-js passes it to
 * the listener's client), so the token is kept with the execution until then.
 *
 * Told once: a guarded write claims the call (FunctionStore.claim), in whichever process
 * saw the run end; a sweep on start and every minute catches what a restart missed.
 */

/** The event, as Slack sends it (docs.slack.dev/reference/events/function_executed). */
export const functionExecutedSchema = z.object({
  type: z.literal('function_executed'),
  function: z.object({ callback_id: z.string().min(1).max(100) }),
  inputs: z.record(z.string(), z.unknown()).default({}),
  function_execution_id: z.string().regex(/^Fx[A-Z0-9]+$/),
  workflow_execution_id: z.string().nullish(),
  bot_access_token: z.string().min(1),
});
export type FunctionExecuted = z.infer<typeof functionExecutedSchema>;

/** Slack shows a step's error to people; its outputs feed later steps. Kept within a message's size. */
const MAX_OUTPUT_CHARS = 40_000;
const MAX_ERROR_CHARS = 1_000;
const SWEEP_MS = 60_000;
/** An execution recorded this long ago whose run never started (the process died in between). */
const NEVER_STARTED_MS = 10 * 60_000;

/** Slack's answers that mean the step is no longer waiting: nothing left to tell. */
const GONE = new Set(['execution_not_in_running_state', 'function_execution_not_found']);

export interface FunctionStepsOptions {
  functions: FunctionStore;
  workflows: Pick<WorkflowStore, 'runnable'>;
  store: Pick<RunStore, 'runByRequestKey' | 'runWithSteps'>;
  runs: Pick<RunsService, 'startRun' | 'cancelRun'>;
  publisher: Pick<Publisher, 'call' | 'whenPosted'>;
  policy: PermissionPolicy;
  logger: Logger;
  /** SLACK_FUNCTION_TIMEOUT_MINUTES; 0 = no limit. */
  timeoutMinutes: number;
  /** Label of a provider for error words ("Anthropic"). */
  providerLabel: (provider: string) => string;
  clock?: Pick<Clock, 'now'>;
}

export type StartOutcome = { started: true; runNumber: number } | { started: false; error: string };

export class FunctionSteps {
  private timer: NodeJS.Timeout | undefined;
  private readonly working = new Set<Promise<unknown>>();

  constructor(private readonly o: FunctionStepsOptions) {}

  private now(): number {
    return nowMs(this.o.clock ?? systemClock);
  }

  /**
   * Starts the run a step asks for; an input Slack sent that cannot run (unknown workflow,
   * bad channel, a person who may not run it) is refused with the words Slack will show.
   * Recorded before the run starts, so a replayed event finds the same run and the same record.
   */
  async start(event: FunctionExecuted): Promise<StartOutcome> {
    const callback = event.function.callback_id;
    const inputs = event.inputs;
    const name = callback === RUN_WORKFLOW_FUNCTION ? inputs.workflow : workflowOfFunction(callback);
    const refuse = (error: string): StartOutcome => ({ started: false, error });
    if (typeof name !== 'string' || !name.trim()) {
      return refuse(
        callback === RUN_WORKFLOW_FUNCTION
          ? 'Say which workflow to run: the step’s Workflow input is empty.'
          : `This step (${callback}) names no Switchboard workflow. Update the app’s manifest (npm run workflow -- functions).`,
      );
    }
    const input = inputs.input ?? '';
    if (typeof input !== 'string') return refuse('The Input must be text.');
    const channel = inputs.channel_id;
    if (
      channel !== undefined &&
      channel !== null &&
      channel !== '' &&
      (typeof channel !== 'string' || !/^[CG][A-Z0-9]{2,}$/.test(channel))
    ) {
      return refuse('“Post the run in” must be a channel.');
    }
    const user = inputs.user_id;
    if (
      user !== undefined &&
      user !== null &&
      user !== '' &&
      (typeof user !== 'string' || !/^[UW][A-Z0-9]{2,}$/.test(user))
    ) {
      return refuse('“Run for” must be a person.');
    }
    const workflowName = name.trim();
    const [workflow] = await this.o.workflows.runnable({ name: workflowName, includeDisabled: true });
    if (!workflow) return refuse(`There is no Switchboard workflow named ${workflowName}.`);
    if (!workflow.enabled)
      return refuse(`The Switchboard workflow ${workflowName} is disabled (its file was removed).`);
    if (workflow.runners.length > 0) {
      if (typeof user !== 'string' || !user) {
        return refuse(
          `The Switchboard workflow ${workflowName} may be run only by the people its file lists: set the step’s “Run for” to the person who used this workflow.`,
        );
      }
      if (!mayRunWorkflow(user, workflow, this.o.policy).allowed) {
        return refuse(`That person may not run the Switchboard workflow ${workflowName}.`);
      }
    }
    const id = event.function_execution_id;
    await this.o.functions.record({
      id,
      callbackId: callback,
      workflow: workflowName,
      token: event.bot_access_token,
    });
    try {
      const run = await this.o.runs.startRun({
        workflow: workflowName,
        input,
        startedBy: typeof user === 'string' && user ? user : `workflow:${event.workflow_execution_id ?? id}`,
        trigger: 'workflow_step',
        channelId: typeof channel === 'string' && channel ? channel : undefined,
        idempotencyKey: functionRunKey(id),
      });
      // A replayed event for a run that already ended: tell Slack now (nothing else will).
      if (run.replayed && TERMINAL_RUN.has(run.status)) {
        this.track(this.settle(run.id));
      }
      return { started: true, runNumber: run.number };
    } catch (error) {
      if (!EngineError.isInstance(error)) throw error;
      // Nothing started: the record is closed with what Slack is told.
      await this.o.functions.claim(id, 'error', error.message);
      return refuse(plain(error.message));
    }
  }

  /** Listens for runs ending, and sweeps now and every minute. Returns the unsubscribe function. */
  attach(events: EngineEventBus): () => void {
    const onRun = (e: { runId: string; to: string }) => {
      if (TERMINAL_RUN.has(e.to as RunStatus)) this.track(this.settle(e.runId));
    };
    events.on('run.changed', onRun);
    this.track(this.sweep());
    this.timer = setInterval(() => this.track(this.sweep()), SWEEP_MS);
    this.timer.unref();
    return () => {
      events.off('run.changed', onRun);
      if (this.timer) clearInterval(this.timer);
      this.timer = undefined;
    };
  }

  /** Resolves when nothing is being told to Slack. */
  async idle(): Promise<void> {
    while (this.working.size > 0) await Promise.allSettled([...this.working]);
  }

  isIdle(): boolean {
    return this.working.size === 0;
  }

  /**
   * Tells Slack about every execution still open whose run ended (a restart missed it),
   * never started, or outlasted SLACK_FUNCTION_TIMEOUT_MINUTES (its run is cancelled).
   */
  async sweep(): Promise<void> {
    try {
      for (const execution of await this.o.functions.open()) {
        const run = await this.o.store.runByRequestKey(functionRunKey(execution.id));
        const age = this.now() - execution.createdAt.getTime();
        if (!run) {
          if (age >= NEVER_STARTED_MS) {
            await this.tell(execution.id, {
              error: 'Switchboard stopped before the run started. Run the workflow again.',
            });
          }
          continue;
        }
        if (TERMINAL_RUN.has(run.status)) {
          await this.settle(run.id);
          continue;
        }
        const limit = this.o.timeoutMinutes * 60_000;
        if (limit > 0 && age >= limit) await this.timeOut(execution.id, run.id, run.number);
      }
    } catch (error) {
      this.o.logger.warn({ err: (error as Error).message }, 'Workflow Builder step sweep failed');
    }
  }

  /** A run ended: tell its step how (once). */
  async settle(runId: string): Promise<void> {
    const run = await this.o.store.runWithSteps(runId);
    const executionId = executionOfRunKey(run?.requestKey);
    if (!run || !executionId) return;
    if (run.status === 'completed') {
      const last = run.steps.at(-1);
      const output = last?.output ?? '';
      await this.tell(executionId, {
        outputs: {
          output:
            output.length > MAX_OUTPUT_CHARS
              ? `${output.slice(0, MAX_OUTPUT_CHARS - 60)}\n… (cut: the whole output is in the run's thread)`
              : output,
          run_link: (await this.link(run)) ?? '',
        },
      });
      return;
    }
    if (run.status === 'failed' || run.status === 'cancelled') {
      await this.tell(executionId, { error: this.reason(run) });
    }
  }

  private async timeOut(executionId: string, runId: string, number: number): Promise<void> {
    const minutes = this.o.timeoutMinutes;
    const told = await this.tell(executionId, {
      error: `Run #${number} did not finish within ${minutes} minutes (SLACK_FUNCTION_TIMEOUT_MINUTES), so it was stopped.`,
    });
    if (!told) return;
    try {
      await this.o.runs.cancelRun(runId, 'workflow-builder');
    } catch (error) {
      // It ended meanwhile: nothing to stop.
      if (!EngineError.isInstance(error)) throw error;
    }
  }

  /** Why a failed or cancelled run ended, in words Workflow Builder shows. */
  private reason(run: NonNullable<Awaited<ReturnType<RunStore['runWithSteps']>>>): string {
    const head = `Run #${run.number} of ${run.workflowName}`;
    if (run.status === 'cancelled')
      return plain(`${head} was cancelled${run.reason ? `: ${run.reason}` : '.'}`);
    const step = run.steps.find((s) => s.status === 'failed' && s.lastErrorKind);
    const why = step?.lastErrorKind
      ? `step ${step.position + 1}/${run.steps.length} ${step.name}: ${describeError(step.lastErrorKind, this.o.providerLabel(step.lastErrorProvider ?? ''), step.lastErrorProvider ?? undefined)}`
      : undefined;
    return plain(`${head} failed${run.reason ? `: ${run.reason}` : ''}${why ? ` (${why})` : ''}`);
  }

  /** The run thread's permalink, once its parent message is posted. */
  private async link(run: { id: string; channelId: string | null; threadTs: string | null }) {
    if (!run.channelId) return undefined;
    const ts = isSlackTs(run.threadTs)
      ? run.threadTs
      : await this.o.publisher.whenPosted(parentKey(run.id), 15_000);
    if (!ts) return undefined;
    try {
      const result = await this.o.publisher.call('chat.getPermalink', {
        channel: run.channelId,
        message_ts: ts,
      });
      return typeof result.permalink === 'string' ? result.permalink : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Claims and makes the complete call with the execution's token; true when this call told
   * Slack (or Slack no longer waits). A failure Slack may get over is given back to the sweep.
   */
  private async tell(
    executionId: string,
    outcome: { outputs: Record<string, string> } | { error: string },
  ): Promise<boolean> {
    const error = 'error' in outcome ? outcome.error.slice(0, MAX_ERROR_CHARS) : undefined;
    if (!(await this.o.functions.claim(executionId, error === undefined ? 'success' : 'error', error))) {
      return false;
    }
    const execution = await this.o.functions.get(executionId);
    if (!execution) return false;
    const method = error === undefined ? 'functions.completeSuccess' : 'functions.completeError';
    const args =
      error === undefined
        ? {
            function_execution_id: executionId,
            outputs: (outcome as { outputs: Record<string, string> }).outputs,
          }
        : { function_execution_id: executionId, error };
    try {
      await this.o.publisher.call(method, { ...args, token: execution.token });
      return true;
    } catch (failure) {
      const slackError = failure instanceof SlackCallError ? failure.slackError : (failure as Error).message;
      // Slack may take it later (network, 5xx, a rate limit the publisher gave up on): the sweep retries.
      if (failure instanceof SlackCallError && failure.transient) await this.o.functions.release(executionId);
      this.o.logger.warn(
        { executionId, method, err: slackError },
        'telling Workflow Builder the outcome failed',
      );
      return GONE.has(slackError);
    }
  }

  private track(work: Promise<unknown>): void {
    const guarded = work.catch((error: unknown) =>
      this.o.logger.warn({ err: (error as Error).message }, 'Workflow Builder step failed'),
    );
    this.working.add(guarded);
    void guarded.finally(() => this.working.delete(guarded));
  }
}

/** Plain text for Slack's error field: no mrkdwn backticks. */
function plain(text: string): string {
  return text.replace(/`/g, '');
}
