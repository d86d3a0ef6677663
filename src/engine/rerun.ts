import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId } from '../core/provider-spec.js';
import { RERUNNABLE_RUN, type Trigger } from '../core/states.js';
import type { NewRunStep, RunRow, RunStepRow, RunStore } from '../db/run-store.js';
import type { WorkflowStore } from '../db/workflow-store.js';
import { checkTemplate } from '../workflows/templates.js';
import { EngineError, notFound } from './engine-error.js';
import type { WorkQueue } from './queue.js';
import { type RunSnapshot, readSnapshot } from './snapshot.js';

/**
 * Re-run from a step (docs/control.md, "Re-run from a step"): a finished run (completed,
 * failed or cancelled) is run again from step N as a new run linked to it. Steps before N
 * are born completed with the old run's outputs ("reused from run #41"), so no provider is
 * called for them; from N on, the steps run with the old run's snapshot plus the edits
 * made in the modal (provider/model, persona, prompt).
 */

export interface RerunEdit {
  /** 0-based position of the step edited; must be at or after the re-run's start. */
  position: number;
  model?: { provider: string; model: string } | undefined;
  /** A persona id, or null for the workflow's default; unset keeps what the step had. */
  persona?: { personaId: string | null } | undefined;
  prompt?: string | undefined;
}

export interface RerunRequest {
  runId: string;
  /** 0-based position of the first step to run again. */
  fromPosition: number;
  edits?: readonly RerunEdit[] | undefined;
  actor: string;
  trigger: Trigger;
  /** Where to post the new run when the old one has no channel (a CLI run). */
  channelId?: string | undefined;
  /** A replayed request (the same modal submitted twice) returns the run the first created. */
  idempotencyKey?: string | undefined;
}

export type RerunField = 'model' | 'persona' | 'prompt';

/** A re-run's edits that cannot be used, each with its step and field (for the modal's errors). */
export class RerunProblems extends EngineError {
  constructor(readonly problems: { position: number; field: RerunField; message: string }[]) {
    super('invalid_choice', problems[0]?.message ?? 'The edits are not valid.');
  }
}

export const MAX_PROMPT_CHARS = 100_000;

/** The old run's step each re-run may start from: up to (and including) its first unfinished one. */
export function rerunnableUpTo(steps: readonly Pick<RunStepRow, 'status'>[]): number {
  const first = steps.findIndex((s) => s.status !== 'completed');
  return first < 0 ? steps.length - 1 : first;
}

export class Reruns {
  constructor(
    private readonly o: {
      store: RunStore;
      workflows: Pick<WorkflowStore, 'personaById'>;
      queue: WorkQueue;
      catalogue: ModelCatalogue;
      configuredProviders: () => ProviderId[];
    },
  ) {}

  /** The old run and its steps, if it may be re-run from `fromPosition`; else a typed refusal. */
  async check(runId: string, fromPosition: number): Promise<RunRow & { steps: RunStepRow[] }> {
    const old = await this.o.store.runWithSteps(runId);
    if (!old) throw notFound('That run no longer exists.');
    if (!RERUNNABLE_RUN.has(old.status)) {
      throw new EngineError(
        'stale',
        `Run #${old.number} is ${old.status.replace('_', ' ')}; only a finished run (completed, failed or cancelled) can be re-run. Cancel it first, or wait for it to finish.`,
      );
    }
    const count = old.steps.length;
    if (!Number.isInteger(fromPosition) || fromPosition < 0 || fromPosition >= count) {
      throw new EngineError(
        'invalid_choice',
        `Run #${old.number} has steps 1–${count}; there is no step ${fromPosition + 1}.`,
      );
    }
    const upTo = rerunnableUpTo(old.steps);
    if (fromPosition > upTo) {
      const missing = old.steps[upTo]!;
      throw new EngineError(
        'invalid_choice',
        `Step ${upTo + 1} (${missing.name}) of run #${old.number} did not complete, so there is no output to reuse after it: re-run from step ${upTo + 1} or earlier.`,
      );
    }
    return old;
  }

  async rerun(request: RerunRequest): Promise<{ run: RunRow; from: RunRow; replayed: boolean }> {
    const key = request.idempotencyKey?.trim() || undefined;
    if (key) {
      const existing = await this.o.store.runByRequestKey(key);
      if (existing)
        return { run: existing, from: (await this.o.store.run(request.runId)) ?? existing, replayed: true };
    }
    const old = await this.check(request.runId, request.fromPosition);
    const edits = await this.validate(old.steps, request);
    const snapshot = structuredClone(readSnapshot(old.snapshot)) as RunSnapshot;
    const steps = old.steps.map((step): NewRunStep => {
      const base: NewRunStep = {
        name: step.name,
        prompt: step.prompt,
        provider: step.provider,
        model: step.model,
        personaId: step.personaId,
        fallbacks: step.fallbacks,
        retry: step.retry,
        timeoutSeconds: step.timeoutSeconds,
        approval: step.approval,
        overrideProvider: step.overrideProvider,
        overrideModel: step.overrideModel,
        overridePersonaId: step.overridePersonaId,
      };
      if (step.position < request.fromPosition) {
        return {
          ...base,
          reused: {
            // A step the old run reused itself points at the run that answered it.
            fromRun: step.reusedFrom ?? old.number,
            output: step.output ?? '',
            answeredProvider: step.answeredProvider,
            answeredModel: step.answeredModel,
            personaUsed: step.personaUsed,
            finishReason: step.finishReason,
            finishedAt: step.finishedAt ?? old.finishedAt ?? this.o.store.clock.now(),
          },
        };
      }
      const edit = edits.get(step.position);
      if (!edit) return base;
      // The snapshot it runs on is the old one plus these edits.
      const definition = snapshot.definition.steps.find((d) => d.name === step.name);
      const next = { ...base };
      if (edit.prompt !== undefined) {
        next.prompt = edit.prompt;
        if (definition) definition.prompt = edit.prompt;
      }
      if (edit.model) {
        next.provider = edit.model.provider;
        next.model = edit.model.model;
        next.overrideProvider = null;
        next.overrideModel = null;
        if (definition) {
          definition.provider = edit.model.provider;
          definition.model = edit.model.model;
        }
      }
      if (edit.persona) {
        next.personaId = edit.persona.personaId;
        next.overridePersonaId = null;
        const persona = edit.persona.personaId ? edit.personas.get(edit.persona.personaId) : undefined;
        if (persona)
          snapshot.personas[persona.id] = { id: persona.id, name: persona.name, system: persona.system };
        if (definition) definition.persona = persona?.name;
      }
      return next;
    });
    const created = await this.o.store.createRun({
      requestKey: key ?? null,
      workflowId: old.workflowId,
      workflowName: old.workflowName,
      snapshot,
      input: old.input,
      trigger: request.trigger,
      startedBy: request.actor,
      // In the old run's channel: its reused outputs stay where they were shown.
      channelId: old.channelId ?? request.channelId ?? null,
      threadTs: null,
      budgetUsd: snapshot.definition.budget?.perRunUsd ?? null,
      rerunOf: { runId: old.id, position: request.fromPosition },
      steps,
    });
    if (created === 'duplicate') {
      const existing = key ? await this.o.store.runByRequestKey(key) : null;
      if (existing) return { run: existing, from: old, replayed: true };
      throw new EngineError('invalid_choice', 'That request was already used.');
    }
    await this.o.queue.enqueue(created.run.id, created);
    return { run: created.run, from: old, replayed: false };
  }

  /** Every edit checked (models offered here, personas that exist, prompts by the file rules). */
  private async validate(steps: RunStepRow[], request: RerunRequest) {
    const problems: RerunProblems['problems'] = [];
    const out = new Map<
      number,
      RerunEdit & { personas: Map<string, { id: string; name: string; system: string }> }
    >();
    const names = steps.map((s) => s.name);
    for (const edit of request.edits ?? []) {
      const step = steps[edit.position];
      if (!step || edit.position < request.fromPosition) {
        problems.push({
          position: edit.position,
          field: 'prompt',
          message: `Step ${edit.position + 1} is not re-run, so it cannot be changed.`,
        });
        continue;
      }
      const personas = new Map<string, { id: string; name: string; system: string }>();
      if (edit.model) {
        const provider = edit.model.provider as ProviderId;
        if (
          !this.o.configuredProviders().includes(provider) ||
          !this.o.catalogue.has(provider, edit.model.model)
        ) {
          problems.push({
            position: edit.position,
            field: 'model',
            message: `${edit.model.provider}/${edit.model.model} is not an available model: pick one from the list.`,
          });
        }
      }
      if (edit.persona?.personaId) {
        const persona = await this.o.workflows.personaById(edit.persona.personaId);
        if (persona) personas.set(persona.id, persona);
        else
          problems.push({
            position: edit.position,
            field: 'persona',
            message: 'That persona no longer exists: pick another.',
          });
      }
      if (edit.prompt !== undefined) {
        const prompt = edit.prompt;
        if (prompt.trim() === '') {
          problems.push({
            position: edit.position,
            field: 'prompt',
            message: 'The prompt must not be empty.',
          });
        } else if (prompt.length > MAX_PROMPT_CHARS) {
          problems.push({
            position: edit.position,
            field: 'prompt',
            message: `The prompt is ${prompt.length} characters; the limit is ${MAX_PROMPT_CHARS}.`,
          });
        } else {
          for (const p of checkTemplate(prompt, {
            earlierSteps: names.slice(0, edit.position),
            laterSteps: names.slice(edit.position + 1),
            isFirst: edit.position === 0,
            self: step.name,
          })) {
            problems.push({ position: edit.position, field: 'prompt', message: p.message });
          }
        }
      }
      out.set(edit.position, { ...edit, personas });
    }
    if (problems.length > 0) throw new RerunProblems(problems);
    return out;
  }
}
