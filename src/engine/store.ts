import type { Clock } from '../core/clock.js';
import type { EngineEventBus } from '../core/events.js';
import { type RunStatus, runSourcesFor, type StepStatus, stepSourcesFor } from '../core/states.js';
import type { Prisma, PrismaClient } from '../db/generated/client.js';
import { Batcher } from './batch.js';

type Tx = Prisma.TransactionClient | PrismaClient;

export interface MoveOptions<S> {
  /** Who caused it: a Slack user id, "engine", "recovery", "schedule:<id>". */
  actor: string;
  /** Narrow the allowed sources further (defaults to every state the table allows). */
  from?: readonly S[];
  /** Run inside this transaction; the event is emitted by the caller's `afterCommit`. */
  tx?: Tx;
}

/**
 * The only place that writes a run's or a step's status. Every write is guarded
 * (`updateMany … where status in (allowed sources)`), so two clicks, two replicas or a
 * replayed request can never run a step twice or resurrect a finished one. A write that
 * matched nothing returns false and changes nothing.
 */
/** An execution's claim of a pending step (see RunStore.claimStep). */
export interface StepClaim {
  lease: string;
  leaseExpiresAt: Date;
  startedAt: Date;
  /**
   * Claim only if the step still has this version and its run is still running: for a
   * claim made from rows read before the previous step ran.
   */
  unchangedSince?: number | undefined;
}

/** A step's answer and its success attempt row (see RunStore.completeStep). */
export interface StepCompletion {
  lease: string;
  output: string;
  provider: string;
  model: string;
  persona: string | null;
  finishReason: string;
  latencyMs: number;
  attempts: number;
  inputTokens: number;
  outputTokens: number;
  finishedAt: Date;
  attemptId: string;
  startedAt: Date;
}

type ClaimRow = { step: { id: string }; claim: StepClaim };
type CompletionRow = { step: { id: string; runId: string }; done: StepCompletion };

/** Timestamps go in as ISO text and are stored in UTC, as Prisma stores them. */
const utc = (column: string) => `(${column}::timestamptz AT TIME ZONE 'UTC')`;

// The two writes every step makes — its claim and its completion — are hand-written SQL so
// that the claims (and completions) of many steps made at the same moment go out as one
// statement (batch.ts), each row still guarded as moveStep guards it. The completion and
// its attempt row are one statement, so they commit together as the transaction did.
const CLAIM_SQL = `
UPDATE "RunStep" s SET "status" = 'running'::"StepStatus", "version" = s."version" + 1,
  "leaseOwner" = v.lease, "leaseExpiresAt" = ${utc('v.lease_expires_at')},
  "startedAt" = ${utc('v.started_at')}, "finishedAt" = NULL, "updatedAt" = ${utc('v.started_at')}
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])
  AS v(step_id, lease, lease_expires_at, started_at, unchanged_since)
WHERE s."id" = v.step_id AND s."status" = 'pending'::"StepStatus"
  AND (v.unchanged_since IS NULL OR (s."version" = v.unchanged_since AND EXISTS (
    SELECT 1 FROM "WorkflowRun" r WHERE r."id" = s."runId" AND r."status" = 'running'::"RunStatus")))
RETURNING s."id" AS "id", s."leaseOwner" AS "lease"`;

const COMPLETE_SQL = `
WITH v AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::int[], $9::int[], $10::int[], $11::int[], $12::text[], $13::text[], $14::text[], $15::text[])
  AS v(step_id, lease, output, provider, model, persona, finish_reason, latency_ms, attempts, input_tokens,
    output_tokens, finished_at, attempt_id, run_id, started_at)
), moved AS (
  UPDATE "RunStep" s SET "status" = 'completed'::"StepStatus", "version" = s."version" + 1,
    "output" = v.output, "answeredProvider" = v.provider, "answeredModel" = v.model, "personaUsed" = v.persona,
    "finishReason" = v.finish_reason, "latencyMs" = v.latency_ms, "attempts" = v.attempts,
    "inputTokens" = s."inputTokens" + v.input_tokens, "outputTokens" = s."outputTokens" + v.output_tokens,
    "leaseOwner" = NULL, "leaseExpiresAt" = NULL,
    "finishedAt" = ${utc('v.finished_at')}, "updatedAt" = ${utc('v.finished_at')}
  FROM v
  WHERE s."id" = v.step_id AND s."status" = 'running'::"StepStatus" AND s."leaseOwner" = v.lease
  RETURNING v.attempt_id
), saved AS (
  INSERT INTO "StepAttempt" ("id", "runStepId", "runId", "number", "provider", "model", "outcome", "latencyMs",
    "inputTokens", "outputTokens", "startedAt", "finishedAt")
  SELECT v.attempt_id, v.step_id, v.run_id, v.attempts, v.provider, v.model, 'success'::"AttemptOutcome",
    v.latency_ms, v.input_tokens, v.output_tokens, ${utc('v.started_at')}, ${utc('v.finished_at')}
  FROM v JOIN moved USING (attempt_id)
  RETURNING "id"
)
SELECT attempt_id AS "attemptId" FROM moved`;

export class RunStore {
  private readonly claims = new Batcher<ClaimRow, boolean>((rows) => this.writeClaims(rows));
  private readonly completions = new Batcher<CompletionRow, boolean>((rows) => this.writeCompletions(rows));

  constructor(
    readonly prisma: PrismaClient,
    readonly events: EngineEventBus,
    readonly clock: Clock,
  ) {}

  async moveRun(
    runId: string,
    to: RunStatus,
    options: MoveOptions<RunStatus> & { data?: Prisma.WorkflowRunUpdateManyMutationInput },
  ): Promise<boolean> {
    const allowed = runSourcesFor(to).filter((s) => !options.from || options.from.includes(s));
    const now = this.clock.now();
    const { count } = await (options.tx ?? this.prisma).workflowRun.updateMany({
      where: { id: runId, status: { in: allowed } },
      data: {
        ...options.data,
        status: to,
        version: { increment: 1 },
        ...(to === 'running' ? { startedAt: options.data?.startedAt ?? now } : {}),
        ...(to === 'completed' || to === 'cancelled' || to === 'failed' ? { finishedAt: now } : {}),
      },
    });
    if (count === 1 && !options.tx) this.events.safeEmit('run.changed', { runId, to, actor: options.actor });
    return count === 1;
  }

  async moveStep(
    step: { id: string; runId: string },
    to: StepStatus,
    options: MoveOptions<StepStatus> & {
      data?: Prisma.RunStepUpdateManyMutationInput;
      /** Extra guard, e.g. { leaseOwner: me } or { version: 3 }. */
      where?: Prisma.RunStepWhereInput;
    },
  ): Promise<boolean> {
    const allowed = stepSourcesFor(to).filter((s) => !options.from || options.from.includes(s));
    const { count } = await (options.tx ?? this.prisma).runStep.updateMany({
      where: { ...options.where, id: step.id, status: { in: allowed } },
      data: { ...options.data, status: to, version: { increment: 1 } },
    });
    if (count === 1 && !options.tx) {
      this.events.safeEmit('step.changed', { runId: step.runId, stepId: step.id, to, actor: options.actor });
    }
    return count === 1;
  }

  /**
   * pending → running for one execution, with its lease: moveStep's guarded write, batched
   * with the claims made at the same moment. False when the step was not pending (or, with
   * `unchangedSince`, was edited or its run stopped running).
   */
  async claimStep(step: { id: string; runId: string }, claim: StepClaim, actor = 'engine'): Promise<boolean> {
    const claimed = await this.claims.run({ step, claim });
    if (claimed)
      this.events.safeEmit('step.changed', { runId: step.runId, stepId: step.id, to: 'running', actor });
    return claimed;
  }

  /**
   * running → completed with the answer, and its success StepAttempt row, in one statement
   * guarded by the lease (batched with the completions made at the same moment). False when
   * the lease was lost. The caller emits the events.
   */
  completeStep(step: { id: string; runId: string }, done: StepCompletion): Promise<boolean> {
    return this.completions.run({ step, done });
  }

  private async writeClaims(rows: ClaimRow[]): Promise<boolean[]> {
    const won = await this.prisma.$queryRawUnsafe<{ id: string; lease: string }[]>(
      CLAIM_SQL,
      rows.map((r) => r.step.id),
      rows.map((r) => r.claim.lease),
      rows.map((r) => r.claim.leaseExpiresAt.toISOString()),
      rows.map((r) => r.claim.startedAt.toISOString()),
      rows.map((r) => r.claim.unchangedSince ?? null),
    );
    // Two claims of one step in one batch: the row holds one lease, and only its owner won.
    const leases = new Set(won.map((w) => `${w.id} ${w.lease}`));
    return rows.map((r) => leases.has(`${r.step.id} ${r.claim.lease}`));
  }

  private async writeCompletions(rows: CompletionRow[]): Promise<boolean[]> {
    const d = rows.map((r) => r.done);
    const saved = await this.prisma.$queryRawUnsafe<{ attemptId: string }[]>(
      COMPLETE_SQL,
      rows.map((r) => r.step.id),
      d.map((x) => x.lease),
      d.map((x) => x.output),
      d.map((x) => x.provider),
      d.map((x) => x.model),
      d.map((x) => x.persona),
      d.map((x) => x.finishReason),
      d.map((x) => x.latencyMs),
      d.map((x) => x.attempts),
      d.map((x) => x.inputTokens),
      d.map((x) => x.outputTokens),
      d.map((x) => x.finishedAt.toISOString()),
      d.map((x) => x.attemptId),
      rows.map((r) => r.step.runId),
      d.map((x) => x.startedAt.toISOString()),
    );
    const ids = new Set(saved.map((s) => s.attemptId));
    return d.map((x) => ids.has(x.attemptId));
  }

  /** Steps of a run in order. */
  steps(runId: string) {
    return this.prisma.runStep.findMany({ where: { runId }, orderBy: { position: 'asc' } });
  }

  run(runId: string) {
    return this.prisma.workflowRun.findUnique({ where: { id: runId } });
  }
}
