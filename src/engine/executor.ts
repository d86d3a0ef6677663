import { randomUUID } from 'node:crypto';
import type { ProviderId } from '../config.js';
import type { Prisma } from '../db/generated/client.js';
import type { Logger } from '../logging.js';
import { type ErrorKind, type GenerateResult, type Provider, ProviderError } from '../providers/types.js';
import { renderTemplate } from '../workflows/templates.js';
import type { ModelRef } from '../workflows/types.js';
import type { EngineEventBus } from './events.js';
import { DatabaseUnavailable, Interrupted, persist, StepLease } from './lease.js';
import type { StepPlan } from './plan.js';
import { backoffDelay } from './retry.js';
import type { RunStore } from './store.js';

type RunStepRow = Awaited<ReturnType<RunStore['steps']>>[number];
type Tx = Prisma.TransactionClient;

/** Where the engine gets providers from; only configured ones are returned. */
export interface ProviderSource {
  get(id: ProviderId): Provider | undefined;
  configured(): ProviderId[];
}

/** Optional health oracle (circuit breakers); the engine asks it before each call. */
export interface HealthGate {
  /**
   * False while the provider/model's breaker is open: skip straight to the next candidate.
   * May hand out the single half-open probe, so ask only right before calling.
   */
  allow(ref: ModelRef): boolean;
  /** True while the circuit is open (no side effects: never hands out the probe). */
  isOpen?(ref: ModelRef): boolean;
  /** Why `allow` said no, in a few words for the card ("5 of last 6 failed: rate limited"). */
  reason?(ref: ModelRef): string | undefined;
  /** Called once by the Engine with its event bus (the gate learns from 'attempt.recorded'). */
  listen?(events: EngineEventBus): void;
  /** Called by Engine.start / Engine.stop. */
  start?(): Promise<void>;
  stop?(): void;
}

export interface ExecutorOptions {
  store: RunStore;
  providers: ProviderSource;
  plan: (run: { snapshot: unknown }, step: RunStepRow) => Promise<StepPlan>;
  logger: Logger;
  /** This process's identity; each claim's lease token starts with it. */
  owner: string;
  leaseMs: number;
  health?: HealthGate | undefined;
  random?: (() => number) | undefined;
  /** Removes configured secrets from any text before it is stored (defence in depth). */
  redact?: ((text: string) => string) | undefined;
}

/** Our own guard around a provider call, in case an adapter ignores its signal. */
const HARD_TIMEOUT_GRACE_MS = 2_000;
const STORED_MESSAGE_CHARS = 500;

/** One execution of one claimed step. */
interface Execution {
  run: { id: string; snapshot: unknown; input: string };
  step: RunStepRow;
  lease: StepLease;
  signal: AbortSignal;
  log: Logger;
  startedAt: number;
  /** Last StepAttempt number used (rows are numbered per step across executions). */
  number: number;
  /** Breaker skips, written with the next row so they are kept only if a real call followed. */
  skips: Prisma.StepAttemptCreateManyInput[];
}

type Success = {
  ok: true;
  ref: ModelRef;
  result: GenerateResult;
  number: number;
  startedAt: Date;
  latencyMs: number;
};
type Failure = { ok: false; error: ProviderError; calls: number; skipped: ModelRef[] };

/**
 * Advances runs: claims the next pending step with a guarded write and a lease, renders
 * its prompt, walks its provider chain (retries with backoff, then fallbacks, within the
 * step's deadline, skipping providers whose circuit is open), records every call, and
 * completes or pauses the step. Pure decisions live in plan.ts and retry.ts; this file is
 * the side-effecting loop.
 */
export class Executor {
  private readonly inflight = new Map<string, AbortController>();
  private readonly redact: (text: string) => string;
  private stopping = false;

  constructor(private readonly o: ExecutorOptions) {
    this.redact = o.redact ?? ((text) => text);
  }

  get activeSteps(): number {
    return this.inflight.size;
  }

  private now(): number {
    return this.o.store.clock.now().getTime();
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
      const lease = new StepLease(this.o.owner, this.o.leaseMs, now.getTime());
      const claimed = await store.moveStep(next, 'running', {
        actor: 'engine',
        from: ['pending'],
        data: {
          leaseOwner: lease.token,
          leaseExpiresAt: new Date(lease.expiresAt),
          startedAt: now,
          finishedAt: null,
        },
      });
      if (!claimed) return; // another worker took it
      await this.execute(run, { ...next, status: 'running', leaseOwner: lease.token }, steps, lease);
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
    lease: StepLease,
  ) {
    const { store, logger } = this.o;
    const controller = new AbortController();
    const x: Execution = {
      run,
      step,
      lease,
      signal: controller.signal,
      log: logger.child({ runId: run.id, stepId: step.id, step: step.name }),
      startedAt: this.now(),
      number: step.attempts,
      skips: [],
    };
    this.inflight.set(step.id, controller);
    const heartbeat = this.startHeartbeat(x, controller);
    try {
      const plan = await this.o.plan(run, step);
      const prompt = renderTemplate(step.prompt, {
        input: run.input,
        outputs: new Map(steps.filter((s) => s.status === 'completed').map((s) => [s.name, s.output ?? ''])),
        previous: steps.find((s) => s.position === step.position - 1)?.output ?? undefined,
        runId: run.id,
        date: store.clock.now().toISOString().slice(0, 10),
      });
      const outcome = await this.walkChain(x, plan, prompt);
      if (outcome.ok) await this.complete(x, plan, outcome);
      else await this.pause(x, outcome.error);
    } catch (error) {
      await this.handleInterruption(x, error).catch((failure: unknown) => {
        // The database is unreachable: the step stays `running` until its lease lapses,
        // then recovery hands it back. Nothing is lost, it only waits.
        x.log.warn({ err: this.redact(String(failure)) }, 'could not release the step; recovery will');
      });
    } finally {
      clearInterval(heartbeat);
      this.inflight.delete(step.id);
    }
  }

  /** The answer and its attempt row are saved in one transaction, guarded by our lease. */
  private async complete(x: Execution, plan: StepPlan, success: Success) {
    const { store } = this.o;
    const attemptId = randomUUID();
    const usage = success.result.usage;
    const finishedAt = store.clock.now();
    const saved = await persist(
      x.lease,
      () =>
        store.prisma.$transaction(async (tx) => {
          // A retry after an ambiguous commit (connection lost while committing) finds it done.
          if (await tx.stepAttempt.findUnique({ where: { id: attemptId }, select: { id: true } }))
            return true;
          const moved = await store.moveStep(x.step, 'completed', {
            actor: 'engine',
            from: ['running'],
            where: { leaseOwner: x.lease.token },
            tx,
            data: {
              output: success.result.text,
              answeredProvider: success.ref.provider,
              answeredModel: success.ref.model,
              personaUsed: plan.persona?.name ?? null,
              finishReason: success.result.finishReason,
              latencyMs: success.latencyMs,
              attempts: success.number,
              inputTokens: { increment: usage.inputTokens },
              outputTokens: { increment: usage.outputTokens },
              leaseOwner: null,
              leaseExpiresAt: null,
              finishedAt,
            },
          });
          if (!moved) return false;
          await this.writeSkips(tx, x);
          await tx.stepAttempt.create({
            data: {
              id: attemptId,
              runStepId: x.step.id,
              runId: x.run.id,
              number: success.number,
              provider: success.ref.provider,
              model: success.ref.model,
              outcome: 'success',
              latencyMs: success.latencyMs,
              inputTokens: usage.inputTokens,
              outputTokens: usage.outputTokens,
              startedAt: success.startedAt,
              finishedAt,
            },
          });
          return true;
        }),
      (error, waitMs) => this.logDbRetry(x, error, waitMs),
      () => this.now(),
    );
    if (!saved) {
      x.log.warn('step result discarded: the lease was lost before it could be saved');
      return;
    }
    this.emitAttempt(x, attemptId, success.ref, 'success', null, success.latencyMs, finishedAt, usage);
    store.events.safeEmit('step.changed', {
      runId: x.run.id,
      stepId: x.step.id,
      to: 'completed',
      actor: 'engine',
    });
  }

  private async pause(x: Execution, last: ProviderError) {
    const { store } = this.o;
    x.log.warn({ kind: last.kind, provider: last.provider, model: last.model }, 'step paused after failure');
    const paused = await persist(
      x.lease,
      () =>
        store.prisma.$transaction(async (tx) => {
          const moved = await store.moveStep(x.step, 'paused', {
            actor: 'engine',
            from: ['running'],
            where: { leaseOwner: x.lease.token },
            tx,
            data: {
              lastErrorKind: last.kind,
              lastErrorMessage: this.storedMessage(last.message),
              lastErrorStatus: last.status ?? null,
              lastErrorProvider: last.provider,
              lastErrorModel: last.model ?? null,
              attempts: x.number,
              leaseOwner: null,
              leaseExpiresAt: null,
            },
          });
          if (moved) await this.writeSkips(tx, x);
          return moved;
        }),
      (error, waitMs) => this.logDbRetry(x, error, waitMs),
      () => this.now(),
    );
    if (!paused) return;
    store.events.safeEmit('step.changed', {
      runId: x.run.id,
      stepId: x.step.id,
      to: 'paused',
      actor: 'engine',
    });
    await store.moveRun(x.run.id, 'paused', { actor: 'engine', from: ['running'] });
  }

  private async handleInterruption(x: Execution, error: unknown) {
    const { store } = this.o;
    const { step } = x;
    const reason = error instanceof Interrupted ? error.reason : undefined;
    const release = { leaseOwner: null, leaseExpiresAt: null } as const;
    const mine = { leaseOwner: x.lease.token };
    if (reason === 'cancelled') {
      await store.moveStep(step, 'cancelled', {
        actor: 'engine',
        from: ['running'],
        where: mine,
        data: release,
      });
      return;
    }
    if (reason === 'shutdown' || reason === 'lease_lost' || error instanceof DatabaseUnavailable) {
      // Hand the step back untouched: another process (or this one after restart) takes it.
      // After a database outage that outlasted the lease, the step runs again from the start.
      await store.moveStep(step, 'pending', {
        actor: 'engine',
        from: ['running'],
        where: mine,
        data: release,
      });
      return;
    }
    // A bug, a bad template or a database that stayed away: pause with the reason rather
    // than lose the run.
    const message = this.redact(error instanceof Error ? error.message : String(error));
    x.log.error({ err: message }, 'step failed outside a provider call');
    const paused = await store.moveStep(step, 'paused', {
      actor: 'engine',
      from: ['running'],
      where: mine,
      data: { ...release, lastErrorKind: 'invalid_request', lastErrorMessage: this.storedMessage(message) },
    });
    if (paused) await store.moveRun(x.run.id, 'paused', { actor: 'engine', from: ['running'] });
  }

  /**
   * Renews the lease a few times per lease period and watches for cancellation. When the
   * database cannot be reached for so long that the lease would lapse before the next beat,
   * the step is abandoned here first, so two executions never overlap.
   */
  private startHeartbeat(x: Execution, controller: AbortController) {
    const { store } = this.o;
    const every = x.lease.heartbeatMs;
    let busy = false;
    return setInterval(() => {
      if (busy) return;
      busy = true;
      void (async () => {
        const sentAt = this.now();
        try {
          const { count } = await store.prisma.runStep.updateMany({
            where: { id: x.step.id, status: 'running', leaseOwner: x.lease.token },
            data: { leaseExpiresAt: new Date(sentAt + x.lease.leaseMs) },
          });
          if (count === 0) return controller.abort(new Interrupted('lease_lost'));
          x.lease.renewed(sentAt);
          const run = await store.prisma.workflowRun.findUnique({
            where: { id: x.run.id },
            select: { status: true },
          });
          if (run?.status === 'cancelled') controller.abort(new Interrupted('cancelled'));
        } catch {
          if (this.now() + every >= x.lease.expiresAt) {
            x.log.warn('database unreachable for most of the lease: abandoning the step for recovery');
            controller.abort(new Interrupted('lease_lost'));
          }
        }
      })().finally(() => {
        busy = false;
      });
    }, every).unref();
  }

  /** Tries each candidate in order, retrying retryable failures with backoff. */
  private async walkChain(x: Execution, plan: StepPlan, prompt: string): Promise<Success | Failure> {
    const first = await this.walk(x, plan, prompt, plan.candidates, true);
    if (first.ok || first.calls > 0 || first.skipped.length === 0) return first;
    // Every candidate that could be called had its circuit open. Pausing without a single
    // call would turn a short outage into manual work, so walk them as if there were no
    // breaker: the normal retry policy applies and a success closes the circuit.
    x.number -= x.skips.length;
    x.skips = [];
    x.log.info('every candidate’s circuit is open: trying them anyway');
    const second = await this.walk(x, plan, prompt, first.skipped, false);
    return second.ok || second.calls > 0 ? second : first;
  }

  private async walk(
    x: Execution,
    plan: StepPlan,
    prompt: string,
    candidates: ModelRef[],
    gated: boolean,
  ): Promise<Success | Failure> {
    const { retry } = plan;
    const deadline = x.startedAt + retry.deadlineMs;
    const health = gated ? this.o.health : undefined;
    let lastError: ProviderError | undefined;
    let calls = 0;
    const skipped: ModelRef[] = [];
    for (const ref of candidates) {
      if (this.now() >= deadline) {
        x.log.info({ deadlineMs: retry.deadlineMs }, 'step deadline reached: no further candidates');
        break;
      }
      const provider = this.o.providers.get(ref.provider);
      if (!provider) {
        lastError ??= notConfigured(ref);
        continue;
      }
      for (let tries = 1; tries <= retry.maxAttempts; tries++) {
        if (x.signal.aborted) throw x.signal.reason;
        if (health && tries === 1 && !health.allow(ref)) {
          const why = health.reason?.(ref) ?? 'failing repeatedly';
          this.queueSkip(x, ref, why);
          skipped.push(ref);
          lastError ??= new ProviderError({ ...ref, kind: 'overloaded', message: `skipped: ${why}` });
          x.log.info({ provider: ref.provider, model: ref.model }, 'skipping: circuit open');
          break;
        }
        // Our own failures (or other steps') opened it mid-walk: move on if there is
        // somewhere to go; with nothing after it, the retry policy runs its course, so the
        // breaker never does worse than no breaker.
        if (health && tries > 1 && health.isOpen?.(ref) && this.hasLater(candidates, ref)) break;
        x.number += 1;
        const number = x.number;
        const startedAt = this.o.store.clock.now();
        const t0 = performance.now();
        try {
          const result = await this.call(provider, {
            model: ref.model,
            system: plan.persona?.system,
            prompt,
            signal: x.signal,
            timeoutMs: plan.timeoutMs,
          });
          const latencyMs = Math.round(performance.now() - t0);
          return { ok: true, ref, result, number, startedAt, latencyMs };
        } catch (error) {
          if (error instanceof Interrupted) throw error;
          if (x.signal.aborted && x.signal.reason instanceof Interrupted) throw x.signal.reason;
          calls += 1;
          const failure = toProviderError(error, ref, this.redact);
          const latencyMs = Math.round(performance.now() - t0);
          await this.recordFailure(x, ref, number, startedAt, latencyMs, failure);
          lastError = failure;
          x.log.info(
            { provider: ref.provider, model: ref.model, kind: failure.kind, status: failure.status, tries },
            'provider call failed',
          );
          if (!failure.retryable || tries >= retry.maxAttempts) break;
          const delay = backoffDelay(tries, retry, failure.retryAfterMs, this.o.random);
          if (delay > retry.maxWaitMs) break; // asked to wait too long: try the next one
          if (this.now() + delay >= deadline) break; // the wait would end past the deadline
          await this.o.store.clock.sleep(delay, x.signal);
        }
      }
    }
    return {
      ok: false,
      error: lastError ?? notConfigured(candidates[0] ?? plan.candidates[0]!),
      calls,
      skipped,
    };
  }

  private hasLater(candidates: ModelRef[], ref: ModelRef): boolean {
    const after = candidates.slice(candidates.indexOf(ref) + 1);
    return after.some((c) => this.o.providers.get(c.provider) !== undefined);
  }

  /**
   * Calls the provider with the step's timeout. Adapters enforce the timeout themselves
   * (kind "timeout"); this race is the backstop for one that ignores its signal, so a hung
   * connection can never hold a run longer than timeout + grace. Cancellation wins at once.
   */
  private async call(
    provider: Provider,
    request: Parameters<Provider['generate']>[0] & { signal: AbortSignal; timeoutMs: number },
  ): Promise<GenerateResult> {
    const hard = new AbortController();
    const signal = AbortSignal.any([request.signal, hard.signal]);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const backstop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        hard.abort(new DOMException(`timed out after ${request.timeoutMs} ms`, 'TimeoutError'));
        reject(
          new ProviderError({
            kind: 'timeout',
            provider: provider.id,
            model: request.model,
            code: 'timeout',
            message: `${provider.label} did not answer within ${Math.round(request.timeoutMs / 1000)} s`,
          }),
        );
      }, request.timeoutMs + HARD_TIMEOUT_GRACE_MS);
      onAbort = () => reject(request.signal.reason);
      request.signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      return await Promise.race([provider.generate({ ...request, signal }), backstop]);
    } finally {
      clearTimeout(timer);
      if (onAbort) request.signal.removeEventListener('abort', onAbort);
    }
  }

  private queueSkip(x: Execution, ref: ModelRef, why: string) {
    x.number += 1;
    const at = this.o.store.clock.now();
    x.skips.push({
      id: randomUUID(),
      runStepId: x.step.id,
      runId: x.run.id,
      number: x.number,
      provider: ref.provider,
      model: ref.model,
      outcome: 'skipped',
      errorKind: 'circuit_open',
      errorMessage: this.storedMessage(why),
      latencyMs: 0,
      startedAt: at,
      finishedAt: at,
    });
  }

  private async writeSkips(tx: Tx, x: Execution) {
    if (x.skips.length > 0) await tx.stepAttempt.createMany({ data: x.skips, skipDuplicates: true });
  }

  /** One failed call: its row and the step's counters, only while the lease is ours. */
  private async recordFailure(
    x: Execution,
    ref: ModelRef,
    number: number,
    startedAt: Date,
    latencyMs: number,
    failure: ProviderError,
  ) {
    const { store } = this.o;
    const attemptId = randomUUID();
    const finishedAt = store.clock.now();
    const sentAt = this.now();
    await persist(
      x.lease,
      () =>
        store.prisma.$transaction(async (tx) => {
          if (await tx.stepAttempt.findUnique({ where: { id: attemptId }, select: { id: true } })) return;
          const { count } = await tx.runStep.updateMany({
            where: { id: x.step.id, status: 'running', leaseOwner: x.lease.token },
            data: { attempts: number, leaseExpiresAt: new Date(sentAt + x.lease.leaseMs) },
          });
          if (count === 0) throw new Interrupted('lease_lost');
          await this.writeSkips(tx, x);
          await tx.stepAttempt.create({
            data: {
              id: attemptId,
              runStepId: x.step.id,
              runId: x.run.id,
              number,
              provider: ref.provider,
              model: ref.model,
              outcome: 'error',
              errorKind: failure.kind,
              httpStatus: failure.status ?? null,
              errorMessage: this.storedMessage(failure.message),
              latencyMs,
              startedAt,
              finishedAt,
            },
          });
        }),
      (error, waitMs) => this.logDbRetry(x, error, waitMs),
      () => this.now(),
    );
    x.lease.renewed(sentAt);
    x.skips = [];
    this.emitAttempt(x, attemptId, ref, 'error', failure.kind, latencyMs, finishedAt);
  }

  private emitAttempt(
    x: Execution,
    attemptId: string,
    ref: ModelRef,
    outcome: 'success' | 'error',
    errorKind: ErrorKind | null,
    latencyMs: number,
    finishedAt: Date,
    usage?: { inputTokens: number; outputTokens: number },
  ) {
    this.o.store.events.safeEmit('attempt.recorded', {
      runId: x.run.id,
      stepId: x.step.id,
      attemptId,
      provider: ref.provider,
      model: ref.model,
      outcome,
      errorKind,
      latencyMs,
      finishedAt,
      ...(usage ?? {}),
    });
  }

  private logDbRetry(x: Execution, error: unknown, waitMs: number) {
    x.log.warn({ err: this.redact(String(error)).slice(0, 300), waitMs }, 'database write failed; retrying');
  }

  private storedMessage(message: string): string {
    return this.redact(message).slice(0, STORED_MESSAGE_CHARS);
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

function toProviderError(error: unknown, ref: ModelRef, redact: (text: string) => string): ProviderError {
  if (ProviderError.isInstance(error)) return error;
  return new ProviderError({
    kind: 'unknown',
    provider: ref.provider,
    model: ref.model,
    message: error instanceof Error ? redact(error.message).slice(0, 300) : 'unknown failure',
  });
}
