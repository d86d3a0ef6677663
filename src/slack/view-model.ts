import type { Config } from '../config.js';
import { addCost, type CostTotal, NO_COST, type PriceList, worstCaseCost } from '../core/cost.js';
import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId } from '../core/provider-spec.js';
import { TERMINAL_RUN } from '../core/states.js';
import type { ModelRef } from '../core/workflow-definition.js';
import type { AttemptNoteRow, RunUsage, RunWithSteps } from '../db/run-reads.js';
import type { RunStepRow } from '../db/run-store.js';
import { readApproval } from '../engine/approvals.js';
import { type PlanContext, planStep, type StepPlan } from '../engine/plan.js';
import { rerunnableUpTo } from '../engine/rerun.js';
import { type PersonaSnapshot, type RunSnapshot, readSnapshot } from '../engine/snapshot.js';
import type {
  ApprovalView,
  MenuOptions,
  PersonaSource,
  RunView,
  StepView,
  UsageView,
} from './views/model.js';

/**
 * Database rows → the plain view-models the Block Kit builders take. Effective
 * provider/model/persona come from the engine's own precedence (planStep), so a card
 * always shows what the engine would run.
 */

export interface ViewContext {
  catalogue: ModelCatalogue;
  config: Pick<Config, 'defaults' | 'retry' | 'stepTimeoutMs'>;
  /** Short health words per provider ("degraded"), shown beside its menu group. */
  providerHealth?: ((provider: ProviderId) => string | null | undefined) | undefined;
}

export function planContext(ctx: ViewContext): PlanContext {
  return {
    catalogue: ctx.catalogue,
    globalDefault: ctx.config.defaults,
    globalRetry: ctx.config.retry,
    defaultTimeoutMs: ctx.config.stepTimeoutMs,
  };
}

/** Real Slack message timestamps look like `1700000000.000100`; anything else (a claim) is not one. */
export function isSlackTs(value: string | null | undefined): value is string {
  return typeof value === 'string' && /^\d+\.\d+$/.test(value);
}

/**
 * The thread a run's cards and notes are posted in: the existing thread it was started in
 * ("in that thread", WorkflowRun.inThreadTs), else its parent message's own thread once
 * posted. Slack threads are one level deep, so replies go to the root, never to a reply.
 */
export function repliesThreadTs(row: {
  threadTs: string | null;
  inThreadTs: string | null;
}): string | undefined {
  if (!isSlackTs(row.threadTs)) return undefined;
  return row.inThreadTs ?? row.threadTs;
}

/** What a run view may say beyond its row: usage, and the number of the run it re-runs. */
export interface RunExtras {
  usage?: UsageView | RunUsage | undefined;
  rerunOfNumber?: number | undefined;
}

export function runView(run: RunWithSteps, extras: RunExtras = {}): RunView {
  const snapshot = readSnapshot(run.snapshot);
  const usage = extras.usage && 'costUsd' in extras.usage ? usageView(extras.usage) : extras.usage;
  return {
    id: run.id,
    number: run.number,
    workflowName: run.workflowName,
    description: snapshot.definition.description || null,
    status: run.status,
    input: run.input,
    startedBy: run.startedBy,
    trigger: run.trigger,
    stepsTotal: run.steps.length,
    stepsCompleted: run.steps.filter((s) => s.status === 'completed').length,
    reason: run.reason,
    createdAt: run.createdAt.toISOString(),
    version: run.version,
    usage: usage ?? null,
    rerunOf:
      extras.rerunOfNumber !== undefined && run.rerunFromPosition !== null
        ? { number: extras.rerunOfNumber, fromStep: run.rerunFromPosition + 1 }
        : null,
    budgetUsd: run.budgetUsd,
  };
}

export function usageView(u: RunUsage): UsageView {
  return {
    inputTokens: u.inputTokens,
    outputTokens: u.outputTokens,
    cost: { usd: u.costUsd, unpriced: u.unpriced },
  };
}

/** Tokens and cost of the answered calls among `attempts` (failed calls are not billed). */
export function usageOfAttempts(attempts: readonly AttemptNoteRow[]): UsageView {
  let cost: CostTotal = NO_COST;
  let inputTokens = 0;
  let outputTokens = 0;
  for (const a of attempts) {
    if (a.outcome !== 'success') continue;
    cost = addCost(cost, a.costUsd);
    inputTokens += a.inputTokens ?? 0;
    outputTokens += a.outputTokens ?? 0;
  }
  return { inputTokens, outputTokens, cost };
}

/** Personas a run's steps may name: the run's snapshot plus any chosen from a card since. */
export function personasFor(
  run: Pick<RunWithSteps, 'snapshot'>,
  extra: readonly PersonaSnapshot[],
): Record<string, PersonaSnapshot> {
  const personas = { ...readSnapshot(run.snapshot).personas };
  for (const p of extra) personas[p.id] ??= p;
  return personas;
}

export interface StepFacts {
  /** Why the step moved on before it answered (the engine's fallbackNote of its attempts). */
  fallbackNote?: string | null | undefined;
  /** The step's plan when the caller has it already (null: no provider can serve it). */
  plan?: StepPlan | null | undefined;
  /** What its answered calls cost (undefined: it made none). */
  cost?: CostTotal | null | undefined;
}

export function stepView(
  run: RunWithSteps,
  step: RunStepRow,
  ctx: ViewContext,
  personas: Record<string, PersonaSnapshot>,
  facts: StepFacts = {},
): StepView {
  const snapshot = readSnapshot(run.snapshot);
  const plan = facts.plan === undefined ? tryPlan(snapshot, step, ctx, personas) : (facts.plan ?? undefined);
  const primary: ModelRef | undefined = plan?.candidates[0];
  const provider = primary?.provider ?? step.overrideProvider ?? step.provider ?? 'none';
  const model = primary?.model ?? step.overrideModel ?? step.model ?? 'none';
  const defaultPersonaId = step.personaId ?? snapshot.workflowPersonaId;
  const lastError = step.lastErrorKind
    ? {
        kind: step.lastErrorKind,
        message: step.lastErrorMessage ?? '',
        provider: step.lastErrorProvider ?? provider,
        model: step.lastErrorModel ?? model,
      }
    : null;
  return {
    id: step.id,
    runId: run.id,
    position: step.position,
    total: run.steps.length,
    name: step.name,
    status: step.status,
    version: step.version,
    provider,
    model,
    personaId: plan?.persona?.id ?? null,
    personaName: plan?.persona?.name ?? null,
    personaSource: (plan?.personaSource ?? 'none') as PersonaSource,
    workflowPersonaName: defaultPersonaId ? (personas[defaultPersonaId]?.name ?? null) : null,
    output: step.output,
    finishReason: step.finishReason,
    answeredProvider: step.answeredProvider,
    answeredModel: step.answeredModel,
    inputTokens: step.inputTokens,
    outputTokens: step.outputTokens,
    latencyMs: step.latencyMs,
    attempts: step.attempts,
    lastError,
    fallbackNote: step.status === 'completed' ? (facts.fallbackNote ?? null) : null,
    cost: facts.cost ?? null,
    reusedFrom: step.reusedFrom,
    approval: approvalView(run, step),
    rerunnable: TERMINAL_RUN.has(run.status) && step.position <= rerunnableUpTo(run.steps),
  };
}

function approvalView(run: RunWithSteps, step: RunStepRow): ApprovalView | null {
  const policy = readApproval(step.approval);
  if (!policy) return null;
  return {
    users: policy.users,
    usergroup: policy.usergroup ?? null,
    starter: policy.starter ? run.startedBy : null,
    owners: policy.owners,
    timeoutMinutes: policy.timeoutMinutes ?? null,
    onTimeout: policy.onTimeout,
    escalated: step.approvalEscalatedAt !== null,
  };
}

/** The engine's plan for a step, or undefined when no provider can serve it (nothing configured). */
export function tryPlan(
  snapshot: RunSnapshot,
  step: RunStepRow,
  ctx: ViewContext,
  personas: Record<string, PersonaSnapshot>,
): StepPlan | undefined {
  try {
    return planStep(snapshot, step, planContext(ctx), personas);
  } catch {
    return undefined;
  }
}

/** What the menus may offer: configured providers only, enabled personas only. */
export function menuOptions(
  ctx: ViewContext,
  personas: readonly { id: string; name: string }[],
): MenuOptions {
  return {
    providers: ctx.catalogue.providers.map((id) => ({
      id,
      label: ctx.catalogue.label(id),
      models: [...ctx.catalogue.models(id)],
      health: ctx.providerHealth?.(id) ?? null,
    })),
    personas: personas.map((p) => ({ id: p.id, name: p.name })),
  };
}

/**
 * "Retry with …" choices for a failed step: the default model of every other configured
 * provider first (a billing or outage problem is usually provider-wide), then the step's
 * own fallbacks, never the model that just failed.
 */
export function alternativesFor(
  failed: ModelRef,
  plan: StepPlan | undefined,
  catalogue: ModelCatalogue,
): ModelRef[] {
  const out: ModelRef[] = [];
  const seen = new Set([`${failed.provider}/${failed.model}`]);
  const add = (ref: ModelRef) => {
    const key = `${ref.provider}/${ref.model}`;
    // Only what the menus offer (the admin's *_MODELS list): the click is checked against it.
    if (
      seen.has(key) ||
      !catalogue.providers.includes(ref.provider) ||
      !catalogue.models(ref.provider).includes(ref.model)
    ) {
      return;
    }
    seen.add(key);
    out.push(ref);
  };
  for (const provider of catalogue.providers) {
    if (provider !== failed.provider) add({ provider, model: catalogue.defaultModel(provider) });
  }
  for (const ref of plan?.candidates ?? []) add(ref);
  return out;
}

/** A prompt size for comparing models by price when the real prompt is not at hand. */
const NOMINAL_PROMPT_TOKENS = 2000;

/**
 * "Retry with …" choices for a step a budget paused (docs/control.md): every configured model
 * with a known price whose worst case is below the failed model's (any priced model when the
 * failed one has no price), cheapest first. The caller may reorder them by health.
 */
export function cheaperAlternatives(
  failed: ModelRef,
  catalogue: ModelCatalogue,
  prices: PriceList,
  maxOutputTokens: number,
): ModelRef[] {
  const worst = (ref: ModelRef) => {
    const price = prices.price(ref);
    return price ? worstCaseCost(NOMINAL_PROMPT_TOKENS, maxOutputTokens, price) : undefined;
  };
  const limit = worst(failed) ?? Number.POSITIVE_INFINITY;
  const out: { ref: ModelRef; usd: number }[] = [];
  for (const provider of catalogue.providers) {
    for (const model of catalogue.models(provider)) {
      const ref = { provider, model };
      const usd = worst(ref);
      if (usd === undefined || usd >= limit) continue;
      if (ref.provider === failed.provider && ref.model === failed.model) continue;
      out.push({ ref, usd });
    }
  }
  return out.sort((a, b) => a.usd - b.usd).map((c) => c.ref);
}
