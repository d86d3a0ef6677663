import { randomUUID } from 'node:crypto';
import { nowMs } from '../core/clock.js';
import { CIRCUIT_OPEN } from '../core/error-kinds.js';
import type { GenerateResult, ProviderError } from '../core/provider-spec.js';
import { cutToBytes, kilobytes, storableText, utf8Bytes } from '../core/text-size.js';
import type { ModelRef } from '../core/workflow-definition.js';
import type {
  FailedCall,
  RunStepRow,
  RunStore,
  SkippedCall,
  StepCompletion,
  StepSaved,
} from '../db/run-store.js';
import type { Logger } from '../logging.js';
import { Interrupted, OUTCOME_HOLD_MS, type PersistOptions, persist, type StepLease } from './lease.js';
import type { StepPlan } from './plan.js';

const STORED_MESSAGE_CHARS = 500;

/** The run columns an execution reads. */
export interface ExecutionRun {
  id: string;
  snapshot: unknown;
  input: string;
  workflowName: string;
  budgetUsd: number | null;
}

/** Why a step pauses: a provider's failure, or a pause of our own (a budget, docs/control.md). */
export interface PauseCause {
  kind: string;
  message: string;
  status?: number | undefined;
  provider: string;
  model?: string | undefined;
}

/**
 * A model's answer as it is stored: without the characters the database cannot hold
 * (storableText), at most `maxBytes` of UTF-8, and when it had to be cut,
 * a note at the end saying so, how large it was and which setting decides. The next steps'
 * templates read what is stored, so they get the same text the card shows.
 */
export function storedOutput(model: string, maxBytes: number | undefined): string {
  const text = storableText(model);
  if (maxBytes === undefined) return text;
  const size = utf8Bytes(text);
  if (size <= maxBytes) return text;
  const note = `\n\n[Switchboard cut this output at ${kilobytes(maxBytes)}: the model wrote ${kilobytes(size)}, more than MAX_OUTPUT_BYTES allows.]`;
  return `${cutToBytes(text, Math.max(0, maxBytes - utf8Bytes(note)))}${note}`;
}

/** One execution of one claimed step. */
export interface Execution {
  run: ExecutionRun;
  step: RunStepRow;
  lease: StepLease;
  signal: AbortSignal;
  log: Logger;
  startedAt: number;
  /** Last StepAttempt number used (rows are numbered per step across executions). */
  number: number;
  /** Breaker skips, written with the next row so they are kept only if a real call followed. */
  skips: SkippedCall[];
}

/** A provider call that answered, not yet saved. */
export interface Success {
  ok: true;
  ref: ModelRef;
  result: GenerateResult;
  number: number;
  startedAt: Date;
  latencyMs: number;
  /** At today's price; null when the model has none. */
  costUsd: number | null;
}

/**
 * Everything an execution writes about its calls and its outcome. Each write is guarded by
 * the execution's lease token (a step another worker holds is never written) and is
 * idempotent (attempt ids), so it can be retried through a database blip: `persist` keeps
 * trying while the lease still holds. Events go out only after the transaction committed.
 */
export class OutcomeWriter {
  constructor(
    private readonly o: {
      store: RunStore;
      redact: (text: string) => string;
      /** MAX_OUTPUT_BYTES; unset → outputs are stored whole. */
      maxOutputBytes?: number | undefined;
    },
  ) {}

  private now(): number {
    return nowMs(this.o.store.clock);
  }

  /**
   * The answer and its attempt row are saved in one transaction, guarded by our lease.
   * The output as stored when saved (by this call or by an earlier try whose commit was
   * ambiguous), whether the run was completed with it (`finishesRun`: no other step is
   * left, as the execution knows them) and whether `claimNext` was claimed with it;
   * undefined when the lease was lost.
   */
  async complete(
    x: Execution,
    plan: StepPlan,
    success: Success,
    then: { finishesRun: boolean; claimNext?: StepCompletion['claimNext'] } = { finishesRun: false },
  ): Promise<({ output: string } & StepSaved) | undefined> {
    const { store } = this.o;
    const usage = success.result.usage;
    const done: StepCompletion = {
      lease: x.lease.token,
      output: storedOutput(success.result.text, this.o.maxOutputBytes),
      provider: success.ref.provider,
      model: success.ref.model,
      persona: plan.persona?.name ?? null,
      finishReason: success.result.finishReason,
      latencyMs: success.latencyMs,
      attempts: success.number,
      inputTokens: usage.inputTokens,
      outputTokens: usage.outputTokens,
      finishedAt: store.clock.now(),
      attemptId: randomUUID(),
      startedAt: success.startedAt,
      costUsd: success.costUsd,
      workflow: x.run.workflowName,
      finishesRun: then.finishesRun,
      claimNext: then.claimNext,
    };
    // A gated step's answer waits for a person (docs/control.md); the run waits with it.
    const awaitApproval = x.step.approval !== null && x.step.approval !== undefined;
    // A retry after an ambiguous commit (connection lost while committing) finds it done.
    // The first try cannot have committed before, so it skips that lookup.
    let maybeDone = false;
    const saved = await persist(
      x.lease,
      () => {
        const attempt = store.completeStep(x.step, done, { skips: x.skips, maybeDone, awaitApproval });
        maybeDone = true;
        return attempt;
      },
      this.holding(x),
    );
    if (!saved) {
      x.log.warn('step result discarded: the lease was lost before it could be saved');
      return undefined;
    }
    return { output: done.output, ...saved };
  }

  async pause(x: Execution, last: PauseCause) {
    const { store } = this.o;
    x.log.warn({ kind: last.kind, provider: last.provider, model: last.model }, 'step paused after failure');
    const paused = await persist(
      x.lease,
      () =>
        store.pauseStep(
          x.step,
          x.lease.token,
          {
            lastErrorKind: last.kind,
            lastErrorMessage: this.storedMessage(last.message),
            lastErrorStatus: last.status ?? null,
            lastErrorProvider: last.provider,
            lastErrorModel: last.model ?? null,
            attempts: x.number,
          },
          x.skips,
        ),
      this.holding(x),
    );
    if (!paused) return;
    await store.moveRun(x.run.id, 'paused', { actor: 'engine', from: ['running'] });
  }

  queueSkip(x: Execution, ref: ModelRef, why: string) {
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
      errorKind: CIRCUIT_OPEN,
      errorMessage: this.storedMessage(why),
      latencyMs: 0,
      startedAt: at,
      finishedAt: at,
    });
  }

  /** One failed call: its row and the step's counters, only while the lease is ours. */
  async recordFailure(
    x: Execution,
    ref: ModelRef,
    number: number,
    startedAt: Date,
    latencyMs: number,
    failure: ProviderError,
  ) {
    const { store } = this.o;
    const call: FailedCall = {
      attemptId: randomUUID(),
      number,
      provider: ref.provider,
      model: ref.model,
      errorKind: failure.kind,
      httpStatus: failure.status ?? null,
      errorMessage: this.storedMessage(failure.message),
      latencyMs,
      startedAt,
      finishedAt: store.clock.now(),
    };
    const sentAt = this.now();
    let maybeDone = false;
    await persist(
      x.lease,
      async () => {
        const result = await store.recordFailure(
          x.step,
          { token: x.lease.token, expiresAt: new Date(sentAt + x.lease.leaseMs) },
          call,
          { skips: x.skips, maybeDone },
        );
        maybeDone = true;
        if (result === 'lost') throw new Interrupted('lease_lost');
      },
      { onRetry: (error, waitMs) => this.logDbRetry(x, error, waitMs), clock: store.clock },
    );
    x.lease.renewed(sentAt);
    x.skips = [];
  }

  /**
   * How an outcome is saved through an outage: past the lease, guarded by its token, until
   * OUTCOME_HOLD_MS from now or shutdown. Until then this process's sweep leaves the step
   * alone (Executor.holds), so no one here calls the provider for it again.
   */
  private holding(x: Execution): PersistOptions {
    return {
      holdUntil: this.now() + OUTCOME_HOLD_MS,
      signal: x.signal,
      onRetry: (error, waitMs) => this.logDbRetry(x, error, waitMs),
      clock: this.o.store.clock,
    };
  }

  private logDbRetry(x: Execution, error: unknown, waitMs: number) {
    x.log.warn(
      { err: this.o.redact(String(error)).slice(0, 300), waitMs },
      'database write failed; retrying',
    );
  }

  storedMessage(message: string): string {
    return this.o.redact(message).slice(0, STORED_MESSAGE_CHARS);
  }
}
