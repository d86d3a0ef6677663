import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId } from '../core/provider-spec.js';
import { EDITABLE_STEP, type RunStatus, type StepStatus } from '../core/states.js';
import { Prisma, type WorkflowRun } from '../db/generated/client.js';
import { listWorkflows, loadWorkflowFromDb } from '../workflows/import-files.js';
import { EngineError, notFound, stale } from './engine-error.js';
import type { WorkQueue } from './queue.js';
import type { RunSnapshot } from './snapshot.js';
import type { RunStore } from './store.js';

/** Inputs above this are refused: a prompt that large is a paste accident, not a workflow input. */
export const MAX_INPUT_BYTES = 100_000;

export type Trigger = 'slash' | 'schedule' | 'button' | 'cli' | 'api';

export interface StartRunRequest {
  workflow: string;
  input: string;
  startedBy: string;
  trigger: Trigger;
  channelId?: string | undefined;
  threadTs?: string | undefined;
  /**
   * Makes the request idempotent: a second startRun with the same key (a replayed slash
   * command, a double click) returns the run the first one created instead of starting
   * another. Use something unique per user action, e.g. `slack:<trigger_id>`.
   */
  idempotencyKey?: string | undefined;
}

/** What startRun returns: the run, and whether this call created it or found it. */
export type StartedRun = WorkflowRun & { replayed: boolean };

export interface RunsServiceOptions {
  store: RunStore;
  queue: WorkQueue;
  catalogue: ModelCatalogue;
  /** Providers that have credentials; only these can be chosen from a card. */
  configuredProviders: () => ProviderId[];
  /** Aborts a step running in this process (cancel). */
  abortStep?: (stepId: string) => void;
}

/**
 * What people and schedules can do to runs. Slack handlers, the CLI and schedules all call
 * these functions; none of them calls a provider or writes status on its own. Every change
 * is a guarded write and leaves an AuditEvent.
 */
export class RunsService {
  constructor(private readonly o: RunsServiceOptions) {}

  private get prisma() {
    return this.o.store.prisma;
  }

  async startRun(request: StartRunRequest): Promise<StartedRun> {
    const key = request.idempotencyKey?.trim() || undefined;
    if (key) {
      const existing = await this.replayOf(key, request.workflow);
      if (existing) return existing;
    }
    const size = Buffer.byteLength(request.input, 'utf8');
    if (size > MAX_INPUT_BYTES) {
      throw new EngineError(
        'input_too_large',
        `Input is ${Math.ceil(size / 1024)} KB; the limit is ${MAX_INPUT_BYTES / 1000} KB. Shorten it or link to the text instead.`,
      );
    }
    const stored = await loadWorkflowFromDb(this.prisma, request.workflow, { includeDisabled: true });
    if (stored && !stored.workflow.enabled) {
      throw new EngineError(
        'disabled',
        `Workflow \`${request.workflow}\` is disabled: its file was removed.`,
      );
    }
    if (!stored) {
      const names = (await listWorkflows(this.prisma)).map((w) => w.name);
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
    let run: WorkflowRun;
    try {
      run = await this.createRun(request, key, workflow, snapshot, definition, byName);
    } catch (error) {
      // Two deliveries of one request raced past the lookup: the unique key let one win.
      const existing =
        key && error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002'
          ? await this.replayOf(key, request.workflow)
          : undefined;
      if (existing) return existing;
      throw error;
    }
    this.o.store.events.safeEmit('run.changed', { runId: run.id, to: 'queued', actor: request.startedBy });
    await this.o.queue.enqueue(run.id);
    return { ...run, replayed: false };
  }

  /** The run an earlier request with this key created, if any. */
  private async replayOf(key: string, workflow: string): Promise<StartedRun | undefined> {
    const run = await this.prisma.workflowRun.findUnique({ where: { requestKey: key } });
    if (!run) return undefined;
    if (run.workflowName !== workflow) {
      throw new EngineError(
        'invalid_choice',
        `That request was already used to start \`${run.workflowName}\` (run #${run.number}).`,
      );
    }
    return { ...run, replayed: true };
  }

  private createRun(
    request: StartRunRequest,
    key: string | undefined,
    workflow: { id: string; name: string },
    snapshot: RunSnapshot,
    definition: RunSnapshot['definition'],
    byName: Map<string, { id: string }>,
  ) {
    return this.prisma.workflowRun.create({
      data: {
        requestKey: key ?? null,
        workflowId: workflow.id,
        workflowName: workflow.name,
        snapshot: snapshot as unknown as Prisma.InputJsonValue,
        input: request.input,
        trigger: request.trigger,
        startedBy: request.startedBy,
        channelId: request.channelId ?? null,
        threadTs: request.threadTs ?? null,
        steps: {
          create: definition.steps.map((step, position) => ({
            position,
            name: step.name,
            prompt: step.prompt,
            provider: step.provider ?? null,
            model: step.model ?? null,
            personaId: step.persona ? (byName.get(step.persona)?.id ?? null) : null,
            fallbacks: step.fallbacks as unknown as Prisma.InputJsonValue,
            retry: (step.retry ?? undefined) as Prisma.InputJsonValue | undefined,
            timeoutSeconds: step.timeoutSeconds ?? null,
          })),
        },
        audit: { create: { actor: request.startedBy, action: 'run.start', toValue: request.trigger } },
      },
    });
  }

  /** A run by id or by its number ("42" or "#42"). */
  async findRun(ref: string) {
    const trimmed = ref.trim().replace(/^#/, '');
    const run = /^\d+$/.test(trimmed)
      ? await this.prisma.workflowRun.findUnique({ where: { number: Number(trimmed) } })
      : await this.prisma.workflowRun.findUnique({ where: { id: trimmed } });
    if (!run) throw notFound(`No run ${ref}.`);
    return run;
  }

  async runWithSteps(runId: string) {
    const run = await this.prisma.workflowRun.findUnique({
      where: { id: runId },
      include: { steps: { orderBy: { position: 'asc' } } },
    });
    if (!run) throw notFound(`No run ${runId}.`);
    return run;
  }

  async setThread(runId: string, channelId: string, threadTs: string) {
    await this.prisma.workflowRun.update({ where: { id: runId }, data: { channelId, threadTs } });
  }

  async pauseRun(runId: string, actor: string) {
    return this.changeRun(runId, 'paused', actor, ['queued', 'running'], 'run.pause');
  }

  async cancelRun(runId: string, actor: string) {
    const run = await this.changeRun(
      runId,
      'cancelled',
      actor,
      ['queued', 'running', 'paused'],
      'run.cancel',
    );
    const steps = await this.o.store.steps(runId);
    for (const step of steps) {
      if (step.status === 'pending') await this.o.store.moveStep(step, 'skipped', { actor });
      else if (step.status === 'paused') await this.o.store.moveStep(step, 'cancelled', { actor });
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
  async retryStep(stepId: string, actor: string, expectedVersion?: number) {
    const step = await this.step(stepId);
    const moved = await this.o.store.moveStep(step, 'pending', {
      actor,
      from: ['paused'],
      where: expectedVersion === undefined ? undefined : { version: expectedVersion },
    });
    if (!moved) throw stale(`Step *${step.name}* is ${step.status} now; only a paused step can be retried.`);
    await this.prisma.auditEvent.create({
      data: {
        runId: step.runId,
        runStepId: step.id,
        actor,
        action: 'step.retry',
        fromValue: 'paused',
        toValue: 'pending',
      },
    });
    await this.o.store.moveRun(step.runId, 'running', { actor, from: ['paused'] });
    await this.o.queue.enqueue(step.runId);
    return this.step(stepId);
  }

  /** Switch a pending or paused step to another provider/model (a run-step override). */
  async setStepModel(
    stepId: string,
    choice: { provider: string; model: string },
    actor: string,
    expectedVersion?: number,
  ) {
    const provider = choice.provider as ProviderId;
    if (!this.o.configuredProviders().includes(provider) || !this.o.catalogue.has(provider, choice.model)) {
      throw new EngineError(
        'invalid_choice',
        `${choice.provider}/${choice.model} is not an available model.`,
      );
    }
    const step = await this.step(stepId);
    const from = step.overrideProvider ? `${step.overrideProvider}/${step.overrideModel}` : null;
    return this.editStep(step, actor, expectedVersion, 'step.model', from, `${provider}/${choice.model}`, {
      overrideProvider: provider,
      overrideModel: choice.model,
    });
  }

  /** Choose a persona for a pending or paused step; null means "use the workflow default". */
  async setStepPersona(stepId: string, personaId: string | null, actor: string, expectedVersion?: number) {
    const persona = personaId
      ? await this.prisma.persona.findFirst({ where: { id: personaId, disabled: false } })
      : null;
    if (personaId && !persona) throw new EngineError('invalid_choice', 'That persona does not exist.');
    const step = await this.step(stepId);
    const previous = step.overridePersonaId
      ? ((await this.prisma.persona.findUnique({ where: { id: step.overridePersonaId } }))?.name ??
        step.overridePersonaId)
      : null;
    return this.editStep(step, actor, expectedVersion, 'step.persona', previous, persona?.name ?? null, {
      overridePersonaId: persona?.id ?? null,
    });
  }

  async step(stepId: string) {
    const step = await this.prisma.runStep.findUnique({ where: { id: stepId } });
    if (!step) throw notFound('That step no longer exists.');
    return step;
  }

  private async editStep(
    step: { id: string; runId: string; name: string; status: StepStatus },
    actor: string,
    expectedVersion: number | undefined,
    action: string,
    fromValue: string | null,
    toValue: string | null,
    data: Prisma.RunStepUpdateManyMutationInput,
  ) {
    const updated = await this.prisma.$transaction(async (tx) => {
      const { count } = await tx.runStep.updateMany({
        where: {
          id: step.id,
          status: { in: [...EDITABLE_STEP] },
          ...(expectedVersion === undefined ? {} : { version: expectedVersion }),
        },
        data: { ...data, version: { increment: 1 } },
      });
      if (count === 0) return false;
      await tx.auditEvent.create({
        data: { runId: step.runId, runStepId: step.id, actor, action, fromValue, toValue },
      });
      return true;
    });
    if (!updated) {
      const now = await this.step(step.id);
      throw stale(
        EDITABLE_STEP.has(now.status)
          ? `Step *${now.name}* was changed by someone else; the card now shows the latest.`
          : `Step *${now.name}* is ${now.status} now and can no longer be changed.`,
      );
    }
    this.o.store.events.safeEmit('step.edited', { runId: step.runId, stepId: step.id, field: action, actor });
    return this.step(step.id);
  }

  private async changeRun(runId: string, to: RunStatus, actor: string, from: RunStatus[], action: string) {
    const run = await this.o.store.run(runId);
    if (!run) throw notFound(`No run ${runId}.`);
    const moved = await this.o.store.moveRun(runId, to, { actor, from });
    if (!moved) throw stale(`Run #${run.number} is ${run.status}; it cannot be ${verb(to)} now.`);
    await this.prisma.auditEvent.create({
      data: { runId, actor, action, fromValue: run.status, toValue: to },
    });
    return (await this.o.store.run(runId))!;
  }
}

function verb(to: RunStatus): string {
  return { paused: 'paused', running: 'resumed', cancelled: 'cancelled' }[to as string] ?? `moved to ${to}`;
}
