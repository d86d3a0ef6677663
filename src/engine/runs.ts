import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId } from '../core/provider-spec.js';
import { EDITABLE_STEP, type RunStatus, type Trigger } from '../core/states.js';
import type { RunRow, RunStepRow, RunStore, StepChanges } from '../db/run-store.js';
import type { WorkflowStore } from '../db/workflow-store.js';
import { raisedCap } from './budget.js';
import { EngineError, notFound, stale } from './engine-error.js';
import type { WorkQueue } from './queue.js';
import type { RunSnapshot } from './snapshot.js';

/**
 * Inputs above this are refused by default (MAX_INPUT_BYTES): a prompt that large is a paste
 * accident, not a workflow input.
 */
export const MAX_INPUT_BYTES = 100_000;

/** Who counts toward MAX_RUNS_IN_FLIGHT_PER_USER: people, not schedules, the CLI or the API. */
const PEOPLE_TRIGGERS: readonly Trigger[] = ['slash', 'button'];

export interface StartRunRequest {
  workflow: string;
  input: string;
  startedBy: string;
  trigger: Trigger;
  channelId?: string | undefined;
  threadTs?: string | undefined;
  /** Post the run as replies in this existing thread of `channelId` (a run started from a message). */
  inThreadTs?: string | undefined;
  /**
   * Makes the request idempotent: a second startRun with the same key (a replayed slash
   * command, a double click) returns the run the first one created instead of starting
   * another. Use something unique per user action, e.g. `slack:<trigger_id>`.
   */
  idempotencyKey?: string | undefined;
}

/** What startRun returns: the run, and whether this call created it or found it. */
export type StartedRun = RunRow & { replayed: boolean };

/** A step by id, or its row when the caller has just read it. */
export type StepRef = string | RunStepRow;

export interface RunsServiceOptions {
  store: RunStore;
  workflows: WorkflowStore;
  queue: WorkQueue;
  catalogue: ModelCatalogue;
  /** Providers that have credentials; only these can be chosen from a card. */
  configuredProviders: () => ProviderId[];
  /** Aborts a step running in this process (cancel). */
  abortStep?: (stepId: string) => void;
  /** Abuse limits (config.limits); unset fields fall back to the defaults. */
  limits?: { maxInputBytes?: number; runsInFlightPerUser?: number } | undefined;
}

/**
 * What people and schedules can do to runs. Slack handlers, the CLI and schedules all call
 * these functions; none of them calls a provider or writes status on its own. Every change
 * is a guarded write and leaves an AuditEvent.
 */
export class RunsService {
  constructor(private readonly o: RunsServiceOptions) {}

  async startRun(request: StartRunRequest): Promise<StartedRun> {
    const key = request.idempotencyKey?.trim() || undefined;
    if (key) {
      const existing = await this.replayOf(key, request.workflow);
      if (existing) return existing;
    }
    const size = Buffer.byteLength(request.input, 'utf8');
    const maxInput = this.o.limits?.maxInputBytes ?? MAX_INPUT_BYTES;
    if (size > maxInput) {
      throw new EngineError(
        'input_too_large',
        `Input is ${Math.ceil(size / 1024)} KB; the limit is ${formatLimit(maxInput)}. Shorten it or link to the text instead.`,
      );
    }
    await this.checkRunsInFlight(request);
    const stored = await this.o.workflows.load(request.workflow, { includeDisabled: true });
    if (stored && !stored.workflow.enabled) {
      throw new EngineError(
        'disabled',
        `Workflow \`${request.workflow}\` is disabled: its file was removed.`,
      );
    }
    if (!stored) {
      const names = await this.o.workflows.names();
      throw notFound(`No workflow named \`${request.workflow}\`.`, names);
    }
    const { workflow, definition, personas: byName } = stored;
    const snapshot: RunSnapshot = {
      workflowId: workflow.id,
      workflowVersion: workflow.version,
      definition,
      workflowPersonaId: definition.persona ? (byName.get(definition.persona)?.id ?? null) : null,
      personas: Object.fromEntries([...byName.values()].map((p) => [p.id, p])),
    };
    const created = await this.o.store.createRun({
      requestKey: key ?? null,
      workflowId: workflow.id,
      workflowName: workflow.name,
      snapshot,
      input: request.input,
      trigger: request.trigger,
      startedBy: request.startedBy,
      channelId: request.channelId ?? null,
      threadTs: request.threadTs ?? null,
      inThreadTs: request.inThreadTs ?? null,
      steps: definition.steps.map((step) => ({
        name: step.name,
        prompt: step.prompt,
        provider: step.provider ?? null,
        model: step.model ?? null,
        personaId: step.persona ? (byName.get(step.persona)?.id ?? null) : null,
        fallbacks: step.fallbacks,
        retry: step.retry ?? null,
        timeoutSeconds: step.timeoutSeconds ?? null,
        approval: step.approval ?? null,
      })),
      budgetUsd: definition.budget?.perRunUsd ?? null,
    });
    if (created === 'duplicate') {
      // Two deliveries of one request raced past the lookup: the unique key let one win.
      const existing = key ? await this.replayOf(key, request.workflow) : undefined;
      if (existing) return existing;
      throw new EngineError('invalid_choice', 'That request was already used.');
    }
    await this.o.queue.enqueue(created.run.id, created);
    return { ...created.run, replayed: false };
  }

  /**
   * A person may have at most MAX_RUNS_IN_FLIGHT_PER_USER runs queued or running at once
   * (paused runs wait for them and cost nothing). The count is read before the run is
   * written, so two starts at the same instant may both pass: a brake on floods, not an
   * exact quota.
   */
  private async checkRunsInFlight(request: StartRunRequest): Promise<void> {
    const limit = this.o.limits?.runsInFlightPerUser ?? 0;
    if (limit <= 0 || !PEOPLE_TRIGGERS.includes(request.trigger)) return;
    const inFlight = await this.o.store.runsInFlightOf(request.startedBy);
    if (inFlight < limit) return;
    throw new EngineError(
      'too_many_runs',
      `You already have ${inFlight} runs queued or running; the limit is ${limit} per person. Wait for one to finish, or stop one with \`/workflow cancel <run>\`.`,
    );
  }

  /** The run an earlier request with this key created, if any. */
  private async replayOf(key: string, workflow: string): Promise<StartedRun | undefined> {
    const run = await this.o.store.runByRequestKey(key);
    if (!run) return undefined;
    if (run.workflowName !== workflow) {
      throw new EngineError(
        'invalid_choice',
        `That request was already used to start \`${run.workflowName}\` (run #${run.number}).`,
      );
    }
    return { ...run, replayed: true };
  }

  /** A run by id or by its number ("42" or "#42"). */
  async findRun(ref: string) {
    const trimmed = ref.trim().replace(/^#/, '');
    const run = /^\d+$/.test(trimmed)
      ? await this.o.store.runByNumber(Number(trimmed))
      : await this.o.store.run(trimmed);
    if (!run) throw notFound(`No run ${ref}.`);
    return run;
  }

  async runWithSteps(runId: string) {
    const run = await this.o.store.runWithSteps(runId);
    if (!run) throw notFound(`No run ${runId}.`);
    return run;
  }

  async setThread(runId: string, channelId: string, threadTs: string) {
    await this.o.store.setThread(runId, channelId, threadTs);
  }

  async pauseRun(runId: string, actor: string) {
    return this.changeRun(runId, 'paused', actor, ['queued', 'running'], 'run.pause');
  }

  async cancelRun(runId: string, actor: string) {
    const run = await this.changeRun(
      runId,
      'cancelled',
      actor,
      ['queued', 'running', 'paused', 'awaiting_approval'],
      'run.cancel',
    );
    const steps = await this.o.store.steps(runId);
    for (const step of steps) {
      if (step.status === 'pending') await this.o.store.moveStep(step, 'skipped', { actor });
      else if (step.status === 'paused' || step.status === 'awaiting_approval')
        await this.o.store.moveStep(step, 'cancelled', { actor });
      else if (step.status === 'running') this.o.abortStep?.(step.id);
    }
    return run;
  }

  /** Resumes a paused run; a paused (failed) step is retried as part of it. */
  async resumeRun(runId: string, actor: string) {
    const steps = await this.o.store.steps(runId);
    const run = await this.changeRun(runId, 'running', actor, ['paused'], 'run.resume');
    for (const step of steps.filter((s) => s.status === 'paused')) {
      await this.o.store.moveStep(step, 'pending', { actor, from: ['paused'] });
    }
    await this.o.queue.enqueue(runId);
    return run;
  }

  /** Retry a paused step (after switching provider or persona, or as it is). */
  async retryStep(ref: StepRef, actor: string, expectedVersion?: number) {
    const step = await this.stepOf(ref);
    const moved = await this.o.store.moveStep(step, 'pending', {
      actor,
      from: ['paused'],
      where: expectedVersion === undefined ? undefined : { version: expectedVersion },
      audit: { action: 'step.retry', fromValue: 'paused', toValue: 'pending' },
    });
    if (!moved) throw stale(`Step *${step.name}* is ${step.status} now; only a paused step can be retried.`);
    await this.o.store.moveRun(step.runId, 'running', { actor, from: ['paused'] });
    await this.o.queue.enqueue(step.runId);
    return this.step(step.id);
  }

  /** Switch a pending or paused step to another provider/model (a run-step override). */
  async setStepModel(
    ref: StepRef,
    choice: { provider: string; model: string },
    actor: string,
    expectedVersion?: number,
  ) {
    const provider = choice.provider as ProviderId;
    // Only what the menu offers: the admin's *_MODELS list (or the built-in one when unset),
    // never a built-in model the admin left out of it.
    if (
      !this.o.configuredProviders().includes(provider) ||
      !this.o.catalogue.models(provider).includes(choice.model)
    ) {
      throw new EngineError(
        'invalid_choice',
        `${choice.provider}/${choice.model} is not an available model.`,
      );
    }
    const step = await this.stepOf(ref);
    const from = step.overrideProvider ? `${step.overrideProvider}/${step.overrideModel}` : null;
    return this.editStep(step, actor, expectedVersion, 'step.model', from, `${provider}/${choice.model}`, {
      overrideProvider: provider,
      overrideModel: choice.model,
    });
  }

  /** Choose a persona for a pending or paused step; null means "use the workflow default". */
  async setStepPersona(ref: StepRef, personaId: string | null, actor: string, expectedVersion?: number) {
    const persona = personaId ? await this.o.workflows.personaById(personaId) : null;
    if (personaId && !persona) throw new EngineError('invalid_choice', 'That persona does not exist.');
    const step = await this.stepOf(ref);
    const previous = step.overridePersonaId
      ? ((await this.o.workflows.personaById(step.overridePersonaId, { includeDisabled: true }))?.name ??
        step.overridePersonaId)
      : null;
    return this.editStep(step, actor, expectedVersion, 'step.persona', previous, persona?.name ?? null, {
      overridePersonaId: persona?.id ?? null,
    });
  }

  /**
   * "Raise this run's cap" (docs/control.md): doubles the run's spending cap, rounded up to
   * the cent, guarded by the cap the caller saw. Who may do it is the caller's check
   * (workflow owners and admins). Returns the old and new cap.
   */
  async raiseRunBudget(runId: string, actor: string): Promise<{ from: number; to: number; number: number }> {
    const run = await this.o.store.run(runId);
    if (!run) throw notFound(`No run ${runId}.`);
    if (run.budgetUsd === null)
      throw new EngineError('invalid_choice', `Run #${run.number} has no cap of its own to raise.`);
    const to = raisedCap(run.budgetUsd);
    const raised = await this.o.store.setRunBudget(runId, { from: run.budgetUsd, to, actor });
    if (!raised) throw stale(`Run #${run.number}'s cap was changed by someone else meanwhile.`);
    return { from: run.budgetUsd, to, number: run.number };
  }

  async step(stepId: string) {
    const step = await this.o.store.step(stepId);
    if (!step) throw notFound('That step no longer exists.');
    return step;
  }

  /** The step a caller already read (a click reads it to check the card), or read now. */
  private stepOf(ref: StepRef): Promise<RunStepRow> {
    return typeof ref === 'string' ? this.step(ref) : Promise.resolve(ref);
  }

  /** The edited step as the write left it: the row given, the change, the next version. */
  private async editStep(
    step: RunStepRow,
    actor: string,
    expectedVersion: number | undefined,
    action: string,
    fromValue: string | null,
    toValue: string | null,
    data: StepChanges,
  ) {
    const edited = await this.o.store.editStep(step, {
      actor,
      editable: [...EDITABLE_STEP],
      version: expectedVersion,
      data,
      audit: { action, fromValue, toValue },
    });
    if (!edited) {
      const now = await this.step(step.id);
      throw stale(
        EDITABLE_STEP.has(now.status)
          ? `Step *${now.name}* was changed by someone else; the card now shows the latest.`
          : `Step *${now.name}* is ${now.status} now and can no longer be changed.`,
      );
    }
    return { ...step, ...(data as Partial<RunStepRow>), version: (expectedVersion ?? step.version) + 1 };
  }

  private async changeRun(runId: string, to: RunStatus, actor: string, from: RunStatus[], action: string) {
    const run = await this.o.store.run(runId);
    if (!run) throw notFound(`No run ${runId}.`);
    const moved = await this.o.store.moveRun(runId, to, {
      actor,
      from,
      audit: { action, fromValue: run.status, toValue: to },
    });
    if (!moved) throw stale(`Run #${run.number} is ${run.status}; it cannot be ${verb(to)} now.`);
    return (await this.o.store.run(runId))!;
  }
}

/** `100000` → `100 KB` (the README's unit); byte counts that are not whole KB stay bytes. */
function formatLimit(bytes: number): string {
  return bytes % 1000 === 0 ? `${bytes / 1000} KB` : `${bytes} bytes`;
}

function verb(to: RunStatus): string {
  return { paused: 'paused', running: 'resumed', cancelled: 'cancelled' }[to as string] ?? `moved to ${to}`;
}
