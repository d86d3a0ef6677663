import type { Clock } from '../../src/core/clock.js';
import type { PriceList } from '../../src/core/cost.js';
import type { HealthGate, ModelCatalogue, Providers } from '../../src/core/ports.js';
import type { ProviderId } from '../../src/core/provider-spec.js';
import {
  type GenerateRequest,
  type GenerateResult,
  type Provider,
  ProviderError,
  type ProviderErrorInit,
} from '../../src/core/provider-spec.js';
import type { StepDefinition, WorkflowDefinition } from '../../src/core/workflow-definition.js';
import type { Database } from '../../src/db/database.js';
import type { Prisma } from '../../src/db/generated/client.js';
import type { StepCompletion } from '../../src/db/run-store.js';
import { Engine } from '../../src/engine/engine.js';
import { InProcessQueue, type WorkQueue } from '../../src/engine/queue.js';
import { type Logger, silentLogger } from '../../src/logging.js';
import { providersOf } from '../../src/providers/registry.js';
import { TestClock } from './clock.js';

/** A small catalogue: every provider known, `configured` ones offered. */
export function testCatalogue(configured: ProviderId[] = ['openai', 'anthropic', 'google']): ModelCatalogue {
  const known: Record<ProviderId, string[]> = {
    openai: ['gpt-4o-mini', 'gpt-4o'],
    anthropic: ['claude-haiku-4-5', 'claude-sonnet-4-5'],
    google: ['gemini-2.5-flash', 'gemini-2.5-pro'],
  };
  return {
    providers: configured,
    knownProviders: Object.keys(known),
    label: (p) => p,
    models: (p) => (configured.includes(p) ? (known[p] ?? []) : []),
    knownModels: (p) => known[p] ?? [],
    defaultModel: (p) => known[p]?.[0] ?? '',
    has: (p, m) => known[p]?.includes(m) ?? false,
    inferProvider: (m) => Object.keys(known).find((p) => known[p]?.includes(m)),
  };
}

type Behaviour = (request: GenerateRequest, call: number) => Promise<string> | string;

/**
 * The engine's provider fake: a `Provider` in process, below the SDKs, that records every
 * request and answers with what `behaviour` returns or throws (a `ProviderError`, see
 * `fail`). For tests of the engine's own rules (retries, fallbacks, deadlines, breakers),
 * where the wire does not matter. Tests that must cross the real SDKs use the HTTP fakes
 * instead: `interceptLlms` (nock, in this process) or the local servers (openai-stub.ts,
 * anthropic-stub.ts) for bots in other processes; those speak `LlmAnswer` (llm-answers.ts).
 */
export class ScriptedProvider implements Provider {
  readonly label: string;
  readonly calls: GenerateRequest[] = [];
  constructor(
    readonly id: ProviderId,
    public behaviour: Behaviour = (r) => `${id}:${r.prompt}`,
  ) {
    this.label = id;
  }

  async generate(request: GenerateRequest): Promise<GenerateResult> {
    this.calls.push(request);
    const text = await this.behaviour(request, this.calls.length);
    return {
      text,
      usage: { inputTokens: 10, outputTokens: 5 },
      finishReason: 'stop',
      provider: this.id,
      model: request.model,
    };
  }

  async *stream(request: GenerateRequest) {
    const result = await this.generate(request);
    yield { type: 'text' as const, text: result.text };
    yield { type: 'done' as const, result };
  }
}

/**
 * A step's answer as an execution saves it (RunStore.completeStep) for a step claimed under
 * `lease`: one call of 1 + 1 tokens, with `overrides`.
 */
export function stepCompletion(lease: string, overrides: Partial<StepCompletion> = {}): StepCompletion {
  return {
    lease,
    output: 'done',
    provider: 'openai',
    model: 'gpt-4o-mini',
    persona: null,
    finishReason: 'stop',
    latencyMs: 5,
    attempts: 1,
    inputTokens: 1,
    outputTokens: 1,
    finishedAt: new Date(),
    attemptId: crypto.randomUUID(),
    startedAt: new Date(),
    costUsd: null,
    workflow: 'echo',
    ...overrides,
  };
}

export const fail = (init: Omit<ProviderErrorInit, 'message'> & { message?: string }) =>
  new ProviderError({ message: init.message ?? init.kind, ...init });

/** The engine's Providers port over fakes, as the bot builds it over real adapters. */
export function providerSource(...providers: Provider[]): Providers {
  return providersOf(providers);
}

export function step(name: string, prompt: string, extra: Partial<StepDefinition> = {}): StepDefinition {
  return { name, prompt, fallbacks: [], ...extra };
}

/** Writes a workflow (and its personas) straight into the database. */
export async function putWorkflow(
  db: Database,
  def: Partial<WorkflowDefinition> & { name: string; steps: StepDefinition[] },
  personas: { name: string; system: string }[] = [],
) {
  const ids: Record<string, string> = {};
  for (const p of personas) {
    const row = await db.prisma.persona.upsert({
      where: { name: p.name },
      create: { name: p.name, system: p.system },
      update: { system: p.system },
    });
    ids[p.name] = row.id;
  }
  const definition: WorkflowDefinition = { description: '', owners: [], fallbacks: [], ...def };
  return db.prisma.workflow.create({
    data: {
      name: def.name,
      definition: definition as unknown as Prisma.InputJsonValue,
      personaId: def.persona ? ids[def.persona] : null,
      owners: definition.owners,
    },
  });
}

export function createTestEngine(
  db: Database,
  providers: Provider[],
  options: {
    /**
     * The engine's clock: by default the suite's calendar with every backoff recorded and
     * skipped (`new TestClock({ realTime: true, sleeps: 'skip' })`); `systemClock` for tests
     * of real waits (timeouts, leases, overload).
     */
    clock?: Clock;
    configured?: ProviderId[];
    retry?: { maxAttempts: number; baseMs: number; maxMs: number };
    leaseMs?: number;
    owner?: string;
    defaults?: { provider?: ProviderId; model?: string };
    /** Resilience knobs (test/engine, test/health, test/faults). */
    health?: HealthGate;
    stepTimeoutMs?: number;
    deadlineMs?: number;
    jitter?: number;
    random?: () => number;
    logger?: Logger;
    queue?: WorkQueue;
    sweepMs?: number;
    redact?: (text: string) => string;
    concurrency?: number;
    /** Budgets (docs/control.md) and the prices they count in. */
    budget?: { dailyUsd?: number; maxOutputTokens: number };
    prices?: PriceList;
  } = {},
) {
  return new Engine({
    db,
    prices: options.prices,
    config: {
      budget: options.budget && {
        dailyUsd: options.budget.dailyUsd,
        maxOutputTokens: options.budget.maxOutputTokens,
      },
      defaults: { provider: options.defaults?.provider, model: options.defaults?.model },
      retry: options.retry ?? { maxAttempts: 3, baseMs: 100, maxMs: 1000 },
      retryJitter: options.jitter,
      stepTimeoutMs: options.stepTimeoutMs ?? 5000,
      stepDeadlineMs: options.deadlineMs,
      worker: { concurrency: options.concurrency ?? 4, leaseMs: options.leaseMs ?? 30_000 },
    },
    providers: providerSource(...providers),
    catalogue: testCatalogue(options.configured ?? providers.map((p) => p.id)),
    logger: options.logger ?? silentLogger,
    clock: options.clock ?? new TestClock({ realTime: true, sleeps: 'skip' }),
    queue: options.queue ?? new InProcessQueue(),
    owner: options.owner,
    random: options.random ?? (() => 0),
    health: options.health,
    sweepMs: options.sweepMs,
    redact: options.redact,
  });
}

import { waitFor } from './wait.js';

export { waitFor };

/** Starts a run of `workflow` as the API would (user U1, no idempotency key). */
export function startApiRun(engine: Engine, workflow: string, input = '') {
  return engine.runs.startRun({ workflow, input, startedBy: 'U1', trigger: 'api' });
}

export async function waitForRun(db: Database, runId: string, statuses: string[], timeoutMs = 10_000) {
  return waitFor(
    async () => {
      const run = await db.prisma.workflowRun.findUnique({ where: { id: runId } });
      return run && statuses.includes(run.status) ? run : undefined;
    },
    timeoutMs,
    `run to be ${statuses.join('/')}`,
  );
}
