import type { ProviderId } from '../config.js';
import type { Logger } from '../logging.js';
import { type ErrorKind, type Provider, ProviderError } from '../providers/types.js';
import { renderTemplate } from '../workflows/templates.js';
import type { ModelRef } from '../workflows/types.js';
import type { StepPlan } from './plan.js';
import { backoffDelay } from './retry.js';
import type { RunStore } from './store.js';

type RunStepRow = Awaited<ReturnType<RunStore['steps']>>[number];

/** Where the engine gets providers from; only configured ones are returned. */
export interface ProviderSource {
  get(id: ProviderId): Provider | undefined;
  configured(): ProviderId[];
}

/** Optional health oracle (circuit breakers); the engine asks it before each call. */
export interface HealthGate {
  /** False while the provider/model's breaker is open: skip straight to the next candidate. */
  allow(ref: ModelRef): boolean;
}

export interface ExecutorOptions {
  store: RunStore;
  providers: ProviderSource;
  plan: (run: { snapshot: unknown }, step: RunStepRow) => Promise<StepPlan>;
  logger: Logger;
  /** This process's identity, written as the lease owner. */
  owner: string;
  leaseMs: number;
  health?: HealthGate | undefined;
  random?: () => number;
}

/** Why an execution was interrupted. */
type StopReason = 'shutdown' | 'cancelled' | 'lease_lost';

class Interrupted extends Error {
  constructor(readonly reason: StopReason) {
    super(reason);
  }
}

/**
 * Advances runs: claims the next pending step with a guarded write and a lease, renders
 * its prompt, walks its provider chain (retries with backoff, then fallbacks), records
 * every call, and completes or pauses the step. Pure decisions live in plan.ts and
 * retry.ts; this file is the side-effecting loop.
 */
export class Executor {
  private readonly inflight = new Map<string, AbortController>();
  private stopping = false;

  constructor(private readonly o: ExecutorOptions) {}

  get activeSteps(): number {
    return this.inflight.size;
  }

  /** Moves the run forward until it pauses, finishes, or another worker holds it. */
  async advance(runId: string): Promise<void> {
    const { store } = this.o;
    while (!this.stopping) {
      const run = await store.run(runId);
      if (!run) return;
      if (run.status === 'queued') {
        await store.moveRun(runId, 'running', { actor: 'engine', from: ['queued'] });
        continue;
      }
      if (run.status !== 'running') return;
      const steps = await store.steps(runId);
      const next = steps.find((s) => s.status !== 'completed');
      if (!next) {
        await store.moveRun(runId, 'completed', { actor: 'engine', from: ['running'] });
        return;
      }
      if (next.status === 'paused') {
        // A paused step holds the run (e.g. a retry raced with a pause): keep them in step.
        await store.moveRun(runId, 'paused', { actor: 'engine', from: ['running'] });
        return;
      }
      if (next.status !== 'pending') return; // running elsewhere, or cancelled/skipped
      const now = store.clock.now();
      const claimed = await store.moveStep(next, 'running', {
        actor: 'engine',
        from: ['pending'],
        data: {
          leaseOwner: this.o.owner,
          leaseExpiresAt: new Date(now.getTime() + this.o.leaseMs),
          startedAt: now,
          finishedAt: null,
        },
      });
      if (!claimed) return; // another worker took it
      await this.execute(run, { ...next, status: 'running' }, steps);
    }
  }

  /** Stops taking work; running steps get `graceMs` to finish, then are handed back. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + graceMs;
    while (this.inflight.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const controller of this.inflight.values()) controller.abort(new Interrupted('shutdown'));
    while (this.inflight.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  /** Aborts a step running in this process (used by cancel). */
  abortStep(stepId: string): void {
    this.inflight.get(stepId)?.abort(new Interrupted('cancelled'));
  }

  private async execute(
    run: { id: string; snapshot: unknown; input: string },
    step: RunStepRow,
    steps: RunStepRow[],
  ) {
    const { store, logger } = this.o;
    const log = logger.child({ runId: run.id, stepId: step.id, step: step.name });
    const controller = new AbortController();
    this.inflight.set(step.id, controller);
    const heartbeat = this.startHeartbeat(run.id, step, controller);
    try {
      const plan = await this.o.plan(run, step);
      const prompt = renderTemplate(step.prompt, {
        input: run.input,
        outputs: new Map(steps.filter((s) => s.status === 'completed').map((s) => [s.name, s.output ?? ''])),
        previous: steps.find((s) => s.position === step.position - 1)?.output ?? undefined,
        runId: run.id,
        date: store.clock.now().toISOString().slice(0, 10),
      });
      const outcome = await this.walkChain(run.id, step, plan, prompt, controller.signal, log);
      if (outcome.ok) {
        const done = await store.moveStep(step, 'completed', {
          actor: 'engine',
          from: ['running'],
          where: { leaseOwner: this.o.owner },
          data: {
            output: outcome.text,
            answeredProvider: outcome.ref.provider,
            answeredModel: outcome.ref.model,
            personaUsed: plan.persona?.name ?? null,
            finishReason: outcome.finishReason,
            latencyMs: outcome.latencyMs,
            leaseOwner: null,
            leaseExpiresAt: null,
            finishedAt: store.clock.now(),
          },
        });
        if (!done) log.warn('step result discarded: the lease was lost before it could be saved');
        return;
      }
      const last = outcome.error;
      log.warn({ kind: last.kind, provider: last.provider, model: last.model }, 'step paused after failure');
      const paused = await store.moveStep(step, 'paused', {
        actor: 'engine',
        from: ['running'],
        where: { leaseOwner: this.o.owner },
        data: {
          lastErrorKind: last.kind,
          lastErrorMessage: last.message.slice(0, 500),
          lastErrorStatus: last.status ?? null,
          lastErrorProvider: last.provider,
          lastErrorModel: last.model ?? null,
          leaseOwner: null,
          leaseExpiresAt: null,
        },
      });
      if (paused) await store.moveRun(run.id, 'paused', { actor: 'engine', from: ['running'] });
    } catch (error) {
      await this.handleInterruption(run.id, step, error, log);
    } finally {
      clearInterval(heartbeat);
      this.inflight.delete(step.id);
    }
  }

  private async handleInterruption(runId: string, step: RunStepRow, error: unknown, log: Logger) {
    const { store } = this.o;
    const reason = error instanceof Interrupted ? error.reason : undefined;
    const release = { leaseOwner: null, leaseExpiresAt: null } as const;
    const mine = { leaseOwner: this.o.owner };
    if (reason === 'cancelled') {
      await store.moveStep(step, 'cancelled', {
        actor: 'engine',
        from: ['running'],
        where: mine,
        data: release,
      });
      return;
    }
    if (reason === 'shutdown' || reason === 'lease_lost') {
      // Hand the step back untouched: another process (or this one after restart) takes it.
      await store.moveStep(step, 'pending', {
        actor: 'engine',
        from: ['running'],
        where: mine,
        data: release,
      });
      return;
    }
    // A bug or a bad template: pause with the reason rather than lose the run.
    const message = error instanceof Error ? error.message : String(error);
    log.error({ err: message }, 'step failed outside a provider call');
    const paused = await store.moveStep(step, 'paused', {
      actor: 'engine',
      from: ['running'],
      where: mine,
      data: { ...release, lastErrorKind: 'invalid_request', lastErrorMessage: message.slice(0, 500) },
    });
    if (paused) await store.moveRun(runId, 'paused', { actor: 'engine', from: ['running'] });
  }

  private startHeartbeat(runId: string, step: RunStepRow, controller: AbortController) {
    const { store } = this.o;
    const every = Math.max(1000, Math.floor(this.o.leaseMs / 3));
    return setInterval(() => {
      void (async () => {
        const now = store.clock.now();
        const { count } = await store.prisma.runStep.updateMany({
          where: { id: step.id, status: 'running', leaseOwner: this.o.owner },
          data: { leaseExpiresAt: new Date(now.getTime() + this.o.leaseMs) },
        });
        if (count === 0) return controller.abort(new Interrupted('lease_lost'));
        const run = await store.prisma.workflowRun.findUnique({
          where: { id: runId },
          select: { status: true },
        });
        if (run?.status === 'cancelled') controller.abort(new Interrupted('cancelled'));
      })().catch(() => {
        // Database blip: the next beat tries again; the lease outlives a few missed beats.
      });
    }, every).unref();
  }

  /** Tries each candidate in order, retrying retryable failures with backoff. */
  private async walkChain(
    runId: string,
    step: RunStepRow,
    plan: StepPlan,
    prompt: string,
    signal: AbortSignal,
    log: Logger,
  ): Promise<
    | { ok: true; text: string; ref: ModelRef; finishReason: string; latencyMs: number }
    | { ok: false; error: ProviderError }
  > {
    let lastError: ProviderError | undefined;
    let attemptNumber = step.attempts;
    for (const ref of plan.candidates) {
      const provider = this.o.providers.get(ref.provider);
      if (!provider) {
        lastError = notConfigured(ref);
        continue;
      }
      if (this.o.health && !this.o.health.allow(ref)) {
        log.info({ provider: ref.provider, model: ref.model }, 'skipping: circuit open');
        lastError ??= new ProviderError({
          ...ref,
          kind: 'overloaded',
          message: 'skipped: failing repeatedly',
        });
        continue;
      }
      for (let tries = 1; tries <= plan.retry.maxAttempts; tries++) {
        if (signal.aborted) throw signal.reason;
        attemptNumber += 1;
        const startedAt = this.o.store.clock.now();
        const t0 = performance.now();
        try {
          const result = await provider.generate({
            model: ref.model,
            system: plan.persona?.system,
            prompt,
            signal,
            timeoutMs: plan.timeoutMs,
          });
          const latencyMs = Math.round(performance.now() - t0);
          await this.recordAttempt(runId, step, attemptNumber, ref, startedAt, latencyMs, {
            outcome: 'success',
            inputTokens: result.usage.inputTokens,
            outputTokens: result.usage.outputTokens,
          });
          return { ok: true, text: result.text, ref, finishReason: result.finishReason, latencyMs };
        } catch (error) {
          if (error instanceof Interrupted) throw error;
          if (signal.aborted && signal.reason instanceof Interrupted) throw signal.reason;
          const failure = toProviderError(error, ref);
          const latencyMs = Math.round(performance.now() - t0);
          await this.recordAttempt(runId, step, attemptNumber, ref, startedAt, latencyMs, {
            outcome: 'error',
            errorKind: failure.kind,
            httpStatus: failure.status ?? null,
            errorMessage: failure.message.slice(0, 500),
          });
          lastError = failure;
          log.info(
            { provider: ref.provider, model: ref.model, kind: failure.kind, tries },
            'provider call failed',
          );
          if (!failure.retryable || tries >= plan.retry.maxAttempts) break;
          const delay = backoffDelay(tries, plan.retry, failure.retryAfterMs, this.o.random);
          if (delay > plan.retry.maxWaitMs) break; // asked to wait too long: try the next one
          await this.o.store.clock.sleep(delay, signal);
        }
      }
    }
    return { ok: false, error: lastError ?? notConfigured(plan.candidates[0] as ModelRef) };
  }

  private async recordAttempt(
    runId: string,
    step: RunStepRow,
    number: number,
    ref: ModelRef,
    startedAt: Date,
    latencyMs: number,
    result:
      | { outcome: 'success'; inputTokens: number; outputTokens: number }
      | { outcome: 'error'; errorKind: ErrorKind; httpStatus: number | null; errorMessage: string },
  ) {
    const { prisma } = this.o.store;
    const tokens =
      result.outcome === 'success'
        ? { inputTokens: result.inputTokens, outputTokens: result.outputTokens }
        : {};
    await prisma.$transaction([
      prisma.stepAttempt.create({
        data: {
          runStepId: step.id,
          runId,
          number,
          provider: ref.provider,
          model: ref.model,
          latencyMs,
          startedAt,
          finishedAt: this.o.store.clock.now(),
          ...result,
        },
      }),
      prisma.runStep.updateMany({
        where: { id: step.id, leaseOwner: this.o.owner },
        data: {
          attempts: number,
          inputTokens: { increment: result.outcome === 'success' ? result.inputTokens : 0 },
          outputTokens: { increment: result.outcome === 'success' ? result.outputTokens : 0 },
        },
      }),
    ]);
    this.o.store.events.safeEmit('attempt.recorded', {
      runId,
      stepId: step.id,
      provider: ref.provider,
      model: ref.model,
      outcome: result.outcome,
      errorKind: result.outcome === 'error' ? result.errorKind : null,
      latencyMs,
      ...tokens,
    });
  }
}

function notConfigured(ref: ModelRef): ProviderError {
  return new ProviderError({
    kind: 'auth',
    provider: ref.provider,
    model: ref.model,
    message: `${ref.provider} is not configured: set its API key`,
  });
}

function toProviderError(error: unknown, ref: ModelRef): ProviderError {
  if (ProviderError.isInstance(error)) return error;
  return new ProviderError({
    kind: 'unknown',
    provider: ref.provider,
    model: ref.model,
    message: error instanceof Error ? error.message.slice(0, 300) : 'unknown failure',
    cause: error,
  });
}
