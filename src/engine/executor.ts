import type { HealthGate, Providers } from '../core/ports.js';
import { ProviderError } from '../core/provider-spec.js';
import type { ModelRef } from '../core/workflow-definition.js';
import type { RunRow, RunStepRow, RunStore } from '../db/run-store.js';
import { isDatabaseError, isTransientDbError } from '../db/transient-errors.js';
import type { Logger } from '../logging.js';
import { renderTemplate } from '../workflows/templates.js';
import { BudgetExceeded, type BudgetGuard } from './budget.js';
import { callProvider } from './call.js';
import { DatabaseUnavailable, Interrupted, persist, StepLease } from './lease.js';
import { type Execution, type ExecutionRun, OutcomeWriter, type Success } from './outcomes.js';
import type { StepPlan } from './plan.js';
import type { RunHandOff } from './queue.js';
import { backoffDelay } from './retry.js';

export interface ExecutorOptions {
  store: RunStore;
  providers: Providers;
  plan: (run: { snapshot: unknown }, step: RunStepRow) => Promise<StepPlan>;
  logger: Logger;
  /** This process's identity; each claim's lease token starts with it. */
  owner: string;
  leaseMs: number;
  health?: HealthGate | undefined;
  random?: (() => number) | undefined;
  /** Removes configured secrets from any text before it is stored (defence in depth). */
  redact?: ((text: string) => string) | undefined;
  /** Prices each call and reserves its worst case under the run's budget caps (docs/control.md). */
  budget: BudgetGuard;
  /** A step's output is cut beyond this many bytes, with a note (MAX_OUTPUT_BYTES). */
  maxOutputBytes?: number | undefined;
  /**
   * Calls providers through their streaming API and raises `step.output` with the text as it
   * comes (LIVE_OUTPUT, default true); false calls `generate()` and raises none.
   */
  streaming?: boolean | undefined;
}

type Failure = { ok: false; error: ProviderError; calls: number; skipped: ModelRef[] };

/** A claim's lease fields for `lease`, taken at `at`. */
function claimUnder(lease: StepLease, at: Date) {
  return { lease: lease.token, leaseExpiresAt: new Date(lease.expiresAt), startedAt: at };
}

/** What a card says when the database refused a step's result (its own words are in the log). */
export const UNSAVED_MESSAGE =
  "Switchboard could not save this step's result (the database refused it; the details are in the bot's log). Retry the step.";

/**
 * Advances runs: claims the next pending step with a guarded write and a lease, renders
 * its prompt, walks its provider chain (retries with backoff, then fallbacks, within the
 * step's deadline, skipping providers whose circuit is open), records every call, and
 * completes or pauses the step. Pure decisions live in plan.ts and retry.ts; this file is
 * the side-effecting loop.
 */
export class Executor {
  /** The executions in this process by step, with their claim's lease token, until each lets go. */
  private readonly inflight = new Map<string, { controller: AbortController; lease: string }>();
  private readonly redact: (text: string) => string;
  private readonly outcomes: OutcomeWriter;
  private stopping = false;

  constructor(private readonly o: ExecutorOptions) {
    this.redact = o.redact ?? ((text) => text);
    this.outcomes = new OutcomeWriter({
      store: o.store,
      redact: this.redact,
      maxOutputBytes: o.maxOutputBytes,
    });
  }

  get activeSteps(): number {
    return this.inflight.size;
  }

  /**
   * True while an execution in this process still works on the claim `lease` — e.g. holds
   * an answer through a database outage that outlasted the lease. Recovery in this process
   * leaves such a step alone; it is not an orphan.
   */
  holds(lease: string | null): boolean {
    if (lease === null) return false;
    for (const execution of this.inflight.values()) if (execution.lease === lease) return true;
    return false;
  }

  private now(): number {
    return this.o.store.clock.now().getTime();
  }

  /**
   * Moves the run forward until it pauses, finishes, or another worker holds it.
   *
   * After a step completes here, the next one is claimed from what this loop already knows
   * instead of reading the run and its steps again: the claim is then also guarded by the
   * step's version (an edit from its card since our read bumps it) and by the run still
   * running (a pause or cancel since), and a claim that misses goes back to a fresh read.
   *
   * `handOff`, the rows this process has just created the run with, serves as the first
   * read the same way: the first claim also moves the run from queued, in the same
   * statement (guarded), and is guarded by the step's version and the run running or just
   * started by it; a miss means someone else got there first, and the loop reads the
   * database. A step's completion claims the next step in its statement (as guarded as the
   * claim it replaces), and the last step's completion completes the run.
   */
  async advance(runId: string, handOff?: RunHandOff): Promise<void> {
    const { store } = this.o;
    let known: { run: RunRow; steps: RunStepRow[] } | undefined;
    let handed = handOff;
    let lostClaims = 0;
    /** The next step, claimed with the previous one's completion. */
    let preclaimed: { stepId: string; lease: StepLease } | undefined;
    while (!this.stopping) {
      let fresh = known === undefined;
      let startsRun = false;
      let run: RunRow;
      let steps: RunStepRow[];
      if (known) {
        ({ run, steps } = known);
        known = undefined;
      } else if (handed) {
        const created = handed;
        handed = undefined;
        if (created.run.status !== 'queued') continue;
        // The first claim starts the run; with no step to claim, the run is moved on its own.
        startsRun = created.steps.find((s) => s.status !== 'completed')?.status === 'pending';
        if (!startsRun && !(await store.moveRun(runId, 'running', { actor: 'engine', from: ['queued'] })))
          continue;
        run = { ...created.run, status: 'running' };
        steps = created.steps;
        fresh = false;
      } else {
        const read = await store.run(runId);
        if (!read) return;
        run = read;
        if (run.status === 'queued') {
          if (!(await store.moveRun(runId, 'running', { actor: 'engine', from: ['queued'] }))) continue;
          run = { ...run, status: 'running' };
        }
        if (run.status !== 'running') return;
        steps = await store.steps(runId);
      }
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
      const ready = preclaimed?.stepId === next.id ? preclaimed.lease : undefined;
      preclaimed = undefined;
      const lease = ready ?? new StepLease(this.o.owner, this.o.leaseMs, now.getTime());
      let claimed = ready !== undefined;
      try {
        if (!ready)
          claimed = await store.claimStep(next, {
            ...claimUnder(lease, now),
            unchangedSince: fresh ? undefined : next.version,
            startsRun,
          });
        else if (ready.expiresAt - now.getTime() < ready.leaseMs - ready.heartbeatMs) {
          // The completion that claimed it took long to save (the database was away a while):
          // renew the lease before working, as a claim made now would have it.
          claimed = await store.renewLease(next.id, ready.token, new Date(now.getTime() + ready.leaseMs));
          if (claimed) ready.renewed(now.getTime());
        }
      } catch (error) {
        if (!isTransientDbError(error) || ++lostClaims > 3) throw error;
        // The connection went while claiming: the claim may have committed with its answer
        // lost, leaving the step `running` under a lease no execution holds. Hand it back as
        // soon as the database answers (guarded by this claim's token), then read again,
        // rather than leave the step to wait out its lease.
        await this.handBack(next, lease);
        continue;
      }
      if (!claimed) {
        if (fresh) return; // another worker took it
        continue; // something changed since our read: read again
      }
      const claimedStep = {
        ...next,
        status: 'running' as const,
        leaseOwner: lease.token,
        version: next.version + 1,
      };
      const saved = await this.execute(run, claimedStep, steps, lease);
      if (saved?.runCompleted) return;
      if (saved !== undefined) {
        const { output } = saved;
        known = {
          run,
          steps: steps.map((s) => (s.id === next.id ? { ...claimedStep, status: 'completed', output } : s)),
        };
        preclaimed = saved.next;
      }
    }
    // Stopped between a completion and the step it claimed: that step goes back at once.
    if (preclaimed) {
      const { stepId, lease } = preclaimed;
      await this.handBack({ id: stepId, runId }, lease).catch(() => {
        // The database is away: the step waits out its lease, then recovery hands it back.
      });
    }
  }

  /**
   * A claim no execution will work on goes back to pending (guarded by its lease token), as
   * soon as the database answers, rather than wait out its lease.
   */
  private handBack(step: { id: string; runId: string }, lease: StepLease): Promise<boolean> {
    const { store } = this.o;
    return persist(
      lease,
      () =>
        store.moveStep(step, 'pending', {
          actor: 'engine',
          from: ['running'],
          where: { leaseOwner: lease.token },
          data: { leaseOwner: null, leaseExpiresAt: null },
        }),
      { clock: store.clock },
    );
  }

  /** Takes work again after a stop (the engine restarts without a new process). */
  resume(): void {
    this.stopping = false;
  }

  /** Stops taking work; running steps get `graceMs` to finish, then are handed back. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    const deadline = Date.now() + graceMs;
    while (this.inflight.size > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const { controller } of this.inflight.values()) controller.abort(new Interrupted('shutdown'));
    while (this.inflight.size > 0) await new Promise((r) => setTimeout(r, 20));
  }

  /** Aborts a step running in this process (used by cancel). */
  abortStep(stepId: string): void {
    this.inflight.get(stepId)?.controller.abort(new Interrupted('cancelled'));
  }

  /**
   * Runs one claimed step; returns its output when it completed and was saved, whether its
   * run was completed with it (the last step: every other one completed), and the next step
   * if it was claimed with it, under the lease returned.
   */
  private async execute(
    run: ExecutionRun,
    step: RunStepRow,
    steps: RunStepRow[],
    lease: StepLease,
  ): Promise<
    | { output: string; runCompleted: boolean; next: { stepId: string; lease: StepLease } | undefined }
    | undefined
  > {
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
    const execution = { controller, lease: lease.token };
    this.inflight.set(step.id, execution);
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
      if (outcome.ok) {
        // A gated step's run now waits for approval: the loop reads it again and stops.
        if (step.approval !== null) {
          await this.outcomes.complete(x, plan, outcome);
          return undefined;
        }
        const after = steps.find((s) => s.id !== step.id && s.status !== 'completed');
        const at = store.clock.now();
        const nextLease =
          after?.status === 'pending' && !this.stopping
            ? new StepLease(this.o.owner, this.o.leaseMs, at.getTime())
            : undefined;
        const saved = await this.outcomes.complete(x, plan, outcome, {
          finishesRun: after === undefined,
          claimNext:
            after && nextLease
              ? { stepId: after.id, claim: { ...claimUnder(nextLease, at), unchangedSince: after.version } }
              : undefined,
        });
        if (!saved) return undefined;
        return {
          output: saved.output,
          runCompleted: saved.runCompleted,
          next: after && nextLease && saved.nextClaimed ? { stepId: after.id, lease: nextLease } : undefined,
        };
      }
      await this.outcomes.pause(x, outcome.error);
      return undefined;
    } catch (error) {
      if (BudgetExceeded.isInstance(error)) {
        x.log.info({ kind: error.kind }, 'call refused by a budget: pausing the step');
        await this.outcomes.pause(x, { kind: error.kind, message: error.message, ...error.ref });
        return undefined;
      }
      await this.handleInterruption(x, error).catch((failure: unknown) => {
        // The database is unreachable: the step stays `running` until its lease lapses,
        // then recovery hands it back. Nothing is lost, it only waits.
        x.log.warn({ err: this.redact(String(failure)) }, 'could not release the step; recovery will');
      });
      return undefined;
    } finally {
      clearInterval(heartbeat);
      // A later execution of the step may have taken the entry since this one handed it back.
      if (this.inflight.get(step.id) === execution) this.inflight.delete(step.id);
    }
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
    // than lose the run. A database's own words (tables, values) go to the log, not the card.
    const message = this.redact(error instanceof Error ? error.message : String(error));
    x.log.error({ err: message }, 'step failed outside a provider call');
    const shown = isDatabaseError(error) ? UNSAVED_MESSAGE : message;
    const paused = await store.moveStep(step, 'paused', {
      actor: 'engine',
      from: ['running'],
      where: mine,
      data: {
        ...release,
        lastErrorKind: 'invalid_request',
        lastErrorMessage: this.outcomes.storedMessage(shown),
      },
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
          if (!(await store.renewLease(x.step.id, x.lease.token, new Date(sentAt + x.lease.leaseMs))))
            return controller.abort(new Interrupted('lease_lost'));
          x.lease.renewed(sentAt);
          const status = await store.runStatus(x.run.id);
          if (status === 'cancelled') controller.abort(new Interrupted('cancelled'));
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
        lastError ??= this.o.providers.notConfigured(ref);
        continue;
      }
      for (let tries = 1; tries <= retry.maxAttempts; tries++) {
        if (x.signal.aborted) throw x.signal.reason;
        if (health && tries === 1 && !health.allow(ref)) {
          const why = health.reason?.(ref) ?? 'failing repeatedly';
          this.outcomes.queueSkip(x, ref, why);
          skipped.push(ref);
          lastError ??= new ProviderError({ ...ref, kind: 'overloaded', message: `skipped: ${why}` });
          x.log.info({ provider: ref.provider, model: ref.model }, 'skipping: circuit open');
          break;
        }
        // Our own failures (or other steps') opened it mid-walk: move on if there is
        // somewhere to go; with nothing after it, the retry policy runs its course, so the
        // breaker never does worse than no breaker.
        if (health && tries > 1 && health.isOpen?.(ref) && this.hasLater(candidates, ref)) break;
        // Refused (BudgetExceeded): the step pauses with the reason, before any call.
        const hold = await this.o.budget.reserve(x.run, ref, [plan.persona?.system, prompt]);
        x.number += 1;
        const number = x.number;
        const startedAt = this.o.store.clock.now();
        const t0 = performance.now();
        const live = this.liveText(x, number);
        try {
          const result = await callProvider(
            provider,
            {
              model: ref.model,
              system: plan.persona?.system,
              prompt,
              maxOutputTokens: this.o.budget.maxOutputTokens,
              signal: x.signal,
              timeoutMs: plan.timeoutMs,
            },
            live?.onText,
          );
          const latencyMs = Math.round(performance.now() - t0);
          const costUsd = this.o.budget.costOf(ref, result.usage);
          await hold.settle(costUsd);
          return { ok: true, ref, result, number, startedAt, latencyMs, costUsd };
        } catch (error) {
          // Whatever this attempt showed is void: the next one (or the paused card) replaces it.
          live?.void();
          // A refused call is not billed; one cut off mid-answer (timeout, cancel, shutdown)
          // may be, by an unknown amount: it keeps its worst case.
          const cutOff =
            error instanceof Interrupted ||
            x.signal.aborted ||
            (ProviderError.isInstance(error) && error.kind === 'timeout');
          await hold.settle(cutOff ? hold.worstUsd : 0);
          if (error instanceof Interrupted) throw error;
          if (x.signal.aborted && x.signal.reason instanceof Interrupted) throw x.signal.reason;
          calls += 1;
          const failure = toProviderError(error, ref, this.redact);
          const latencyMs = Math.round(performance.now() - t0);
          await this.outcomes.recordFailure(x, ref, number, startedAt, latencyMs, failure);
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
      error: lastError ?? this.o.providers.notConfigured(candidates[0] ?? plan.candidates[0]!),
      calls,
      skipped,
    };
  }

  /**
   * The live text of one attempt, raised as `step.output` events (not stored): the first
   * delta of an attempt resets what an earlier one showed, and a failed attempt voids its own.
   */
  private liveText(x: Execution, attempt: number) {
    if (this.o.streaming === false) return undefined;
    const { events } = this.o.store;
    const ids = { runId: x.run.id, stepId: x.step.id, attempt };
    let shown = false;
    return {
      onText: (text: string) => {
        events.safeEmit('step.output', { ...ids, text, reset: !shown });
        shown = true;
      },
      void: () => {
        if (shown) events.safeEmit('step.output', { ...ids, text: '', reset: true });
        shown = false;
      },
    };
  }

  private hasLater(candidates: ModelRef[], ref: ModelRef): boolean {
    const after = candidates.slice(candidates.indexOf(ref) + 1);
    return after.some((c) => this.o.providers.get(c.provider) !== undefined);
  }
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
