import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId } from '../core/provider-spec.js';
import type { ModelRef, RetryPolicy } from '../core/workflow-definition.js';
import { resolveModel, resolvePersona } from './precedence.js';
import {
  candidateChain,
  type GlobalRetrySettings,
  type ResolvedRetryPolicy,
  resolveRetryPolicy,
} from './retry.js';
import type { PersonaSnapshot, RunSnapshot } from './snapshot.js';

/** Everything the executor needs to call providers for one step, decided up front. */
export interface StepPlan {
  /** Resolved choice first, then the step's fallbacks, then the workflow's. */
  candidates: ModelRef[];
  /** Where the first candidate came from (override, step, workflow, global). */
  modelSource: string;
  persona: PersonaSnapshot | null;
  personaSource: string;
  retry: ResolvedRetryPolicy;
  timeoutMs: number;
}

export interface PlanContext {
  catalogue: ModelCatalogue;
  globalDefault: { provider?: ProviderId | undefined; model?: string | undefined };
  /** Jitter and the step deadline are global settings; they are optional for older callers. */
  globalRetry: GlobalRetrySettings;
  defaultTimeoutMs: number;
}

/** The run-step columns planning reads. */
export interface PlannableStep {
  provider: string | null;
  model: string | null;
  personaId: string | null;
  overrideProvider: string | null;
  overrideModel: string | null;
  overridePersonaId: string | null;
  fallbacks: unknown;
  retry: unknown;
  timeoutSeconds: number | null;
}

const ref = (provider: string | null | undefined, model: string | null | undefined) =>
  provider || model
    ? { provider: (provider ?? undefined) as ProviderId | undefined, model: model ?? undefined }
    : undefined;

/**
 * Pure: applies the precedence of docs/architecture.md (run-step override > step > workflow > global for
 * provider/model; override > step > workflow > none for persona) to one run step.
 * `personas` must hold the override persona when the step has one (it may be newer than
 * the run's snapshot).
 */
export function planStep(
  snapshot: RunSnapshot,
  step: PlannableStep,
  ctx: PlanContext,
  personas: Record<string, PersonaSnapshot> = snapshot.personas,
): StepPlan {
  const def = snapshot.definition;
  const primary = resolveModel(
    {
      override: ref(step.overrideProvider, step.overrideModel),
      step: ref(step.provider, step.model),
      workflow: ref(def.provider, def.model),
      global: ref(ctx.globalDefault.provider, ctx.globalDefault.model),
    },
    ctx.catalogue,
  );
  const persona = resolvePersona({
    override: step.overridePersonaId,
    step: step.personaId,
    workflow: snapshot.workflowPersonaId,
  });
  const personaRow = persona.persona
    ? (personas[persona.persona] ?? snapshot.personas[persona.persona])
    : undefined;
  const candidates = candidateChain(
    { provider: primary.provider, model: primary.model },
    (step.fallbacks as ModelRef[] | null) ?? [],
    def.fallbacks ?? [],
  );
  const lastResort = lastResortCandidate(candidates, ctx);
  return {
    candidates: lastResort ? [...candidates, lastResort] : candidates,
    modelSource: primary.source,
    persona: personaRow ?? null,
    personaSource: personaRow ? persona.source : 'none',
    retry: resolveRetryPolicy(ctx.globalRetry, def.retry, step.retry as RetryPolicy | null),
    timeoutMs: (step.timeoutSeconds ?? def.timeoutSeconds ?? ctx.defaultTimeoutMs / 1000) * 1000,
  };
}

/**
 * When no candidate's provider has credentials here (a workflow written for Anthropic on a
 * deployment with only OpenAI), the run does not stall: the global default — or the first
 * configured provider's default model — is tried last. The card shows who answered.
 */
function lastResortCandidate(candidates: ModelRef[], ctx: PlanContext): ModelRef | undefined {
  const configured = ctx.catalogue.providers;
  if (configured.length === 0 || candidates.some((c) => configured.includes(c.provider))) return undefined;
  const global = ctx.globalDefault.provider;
  if (global && configured.includes(global)) {
    return { provider: global, model: ctx.globalDefault.model ?? ctx.catalogue.defaultModel(global) };
  }
  const first = configured[0] as ProviderId;
  return { provider: first, model: ctx.catalogue.defaultModel(first) };
}

export function isSnapshot(value: unknown): value is RunSnapshot {
  return typeof value === 'object' && value !== null && 'definition' in value;
}
