import { randomUUID } from 'node:crypto';
import type { Clock } from '../core/clock.js';
import type { EngineEventBus } from '../core/events.js';
import {
  type RunStatus,
  runSourcesFor,
  type StepStatus,
  stepSourcesFor,
  type Trigger,
} from '../core/states.js';
import { storableText } from '../core/text-size.js';
import { Batcher } from './batch.js';
import type { SqlQuery } from './database.js';
import type { Prisma, PrismaClient, RunStep, StepAttempt, WorkflowRun } from './generated/client.js';
import { runState, stepState } from './sql-states.js';
import { RUN_TX_OPTIONS } from './transactions.js';
import { isTransientDbError, sqlStateOf } from './transient-errors.js';

/** A run's row and a run step's row, as the store returns them. */
export type RunRow = WorkflowRun;
export type RunStepRow = RunStep;
export type AttemptRow = StepAttempt;
/** The changes a status move may carry besides the status (outputs, errors, lease fields…). */
export type RunChanges = Prisma.WorkflowRunUpdateManyMutationInput;
export type StepChanges = Prisma.RunStepUpdateManyMutationInput;
/** Extra guards on a step move, e.g. `{ leaseOwner: token }` or `{ version: 3 }`. */
export type StepGuard = Pick<Prisma.RunStepWhereInput, 'leaseOwner' | 'leaseExpiresAt' | 'version'>;

/** The audit row written with a change, in the same transaction. */
export interface AuditEntry {
  action: string;
  fromValue?: string | null;
  toValue?: string | null;
}

export interface MoveOptions<S> {
  /** Who caused it: a Slack user id, "engine", "recovery", "schedule:<id>". */
  actor: string;
  /** Narrow the allowed sources further (defaults to every state the table allows). */
  from?: readonly S[];
  /** Written with the move, in its transaction, only when the move happened. */
  audit?: AuditEntry;
}

/** A call skipped because its circuit was open: kept only beside a real call's row. */
export type SkippedCall = Prisma.StepAttemptCreateManyInput;

/** A failed provider call (its attempt row). */
export interface FailedCall {
  attemptId: string;
  number: number;
  provider: string;
  model: string;
  errorKind: string;
  httpStatus: number | null;
  errorMessage: string;
  latencyMs: number;
  startedAt: Date;
  finishedAt: Date;
}

/** What a new run is made of (RunStore.createRun). */
export interface NewRun {
  requestKey: string | null;
  workflowId: string;
  workflowName: string;
  snapshot: unknown;
  input: string;
  trigger: Trigger;
  startedBy: string;
  channelId: string | null;
  threadTs: string | null;
  /** An existing thread the run is posted in (WorkflowRun.inThreadTs). */
  inThreadTs?: string | null | undefined;
  /** The run's spending cap in USD (budget.per_run_usd); null: none. */
  budgetUsd?: number | null | undefined;
  /** A re-run: the run it re-runs and the position it starts from (docs/control.md). */
  rerunOf?: { runId: string; position: number } | undefined;
  steps: NewRunStep[];
}

export interface NewRunStep {
  name: string;
  prompt: string;
  provider: string | null;
  model: string | null;
  personaId: string | null;
  fallbacks: unknown;
  retry: unknown;
  timeoutSeconds: number | null;
  approval?: unknown;
  overrideProvider?: string | null | undefined;
  overrideModel?: string | null | undefined;
  overridePersonaId?: string | null | undefined;
  /** A re-run's earlier step: born completed with the old run's answer, no provider call. */
  reused?: ReusedAnswer | undefined;
}

/** What a re-run copies from the old run's completed step. */
export interface ReusedAnswer {
  fromRun: number;
  output: string;
  answeredProvider: string | null;
  answeredModel: string | null;
  personaUsed: string | null;
  finishReason: string | null;
  finishedAt: Date;
}

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
  /**
   * The run is still queued, created by this process a moment ago: move it to running in
   * the same statement (guarded: only from queued), and count that as its running for the
   * claim's guard. Its first pass then takes one round trip instead of two.
   */
  startsRun?: boolean | undefined;
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
  /** The call's cost at today's price (null: no price known); kept on its attempt row. */
  costUsd: number | null;
  /** The run's workflow, for the cost metric. */
  workflow: string;
  /**
   * Every other step of the run is completed, as the execution knows them: the run is
   * completed in the same statement too, if it is still running and the database agrees
   * that no other step is left.
   */
  finishesRun?: boolean | undefined;
  /**
   * The run's next step, to be claimed in the same statement if the completion is saved: the
   * claim is as guarded as claimStep's with `unchangedSince` (pending, the version the
   * execution read, the run running). One round trip a step instead of two.
   */
  claimNext?: { stepId: string; claim: StepClaim & { unchangedSince: number } } | undefined;
}

/** A completion saved: whether it completed its run, and whether it claimed the next step. */
export interface StepSaved {
  runCompleted: boolean;
  nextClaimed: boolean;
}

type ClaimRow = { step: { id: string; runId: string }; claim: StepClaim };
type ClaimResult = { claimed: boolean; runStarted: boolean };
type CompletionRow = { step: { id: string; runId: string }; done: StepCompletion };

/** What createRun wrote: the run and its steps in order, as a read would return them. */
export interface CreatedRun {
  run: RunRow;
  steps: RunStepRow[];
}

/** A run step's row as createRun writes it: pending, or completed with a reused answer. */
function newStepRow(step: NewRunStep, position: number, runId: string, now: Date): RunStepRow {
  const reused = step.reused;
  return {
    id: randomUUID(),
    runId,
    position,
    name: step.name,
    prompt: step.prompt,
    provider: step.provider,
    model: step.model,
    personaId: step.personaId,
    // As the database hands jsonb back (the column's default for none).
    fallbacks: (plainJson(step.fallbacks) ?? []) as Prisma.JsonValue,
    retry: plainJson(step.retry),
    timeoutSeconds: step.timeoutSeconds,
    approval: plainJson(step.approval),
    approvalEscalatedAt: null,
    reusedFrom: reused?.fromRun ?? null,
    overrideProvider: step.overrideProvider ?? null,
    overrideModel: step.overrideModel ?? null,
    overridePersonaId: step.overridePersonaId ?? null,
    status: reused ? 'completed' : 'pending',
    output: reused?.output ?? null,
    answeredProvider: reused?.answeredProvider ?? null,
    answeredModel: reused?.answeredModel ?? null,
    personaUsed: reused?.personaUsed ?? null,
    finishReason: reused?.finishReason ?? null,
    lastErrorKind: null,
    lastErrorMessage: null,
    lastErrorStatus: null,
    lastErrorProvider: null,
    lastErrorModel: null,
    attempts: 0,
    inputTokens: 0,
    outputTokens: 0,
    latencyMs: null,
    slackTs: null,
    alertChannel: null,
    alertTs: null,
    noteTs: null,
    liveTs: null,
    leaseOwner: null,
    leaseExpiresAt: null,
    version: 0,
    startedAt: null,
    finishedAt: reused?.finishedAt ?? null,
    updatedAt: now,
  };
}

/** A JSON value as jsonb keeps it (undefined fields dropped); null for none (SQL NULL). */
function plainJson(value: unknown): Prisma.JsonValue | null {
  return value === undefined || value === null
    ? null
    : (JSON.parse(JSON.stringify(value)) as Prisma.JsonValue);
}

/** A JSON column's parameter: its text, or null for SQL NULL. */
function jsonText(value: Prisma.JsonValue | null): string | null {
  return value === null ? null : JSON.stringify(value);
}

/** A unique index refused the row (createRun's statement goes through the driver). */
function isUniqueViolation(error: unknown): boolean {
  return sqlStateOf(error) === '23505';
}

class NotAwaiting extends Error {}

/** Timestamps go in as ISO text and are stored in UTC, as Prisma stores them. */
const utc = (column: string) => `(${column}::timestamptz AT TIME ZONE 'UTC')`;

/**
 * What a claim writes on its step row `s`: running under the lease in `v`'s columns named
 * `<prefix>lease`, `<prefix>lease_expires_at` and `<prefix>started_at` (CLAIM_SQL, and the next
 * step's claim in COMPLETE_SQL).
 */
const claimedStepColumns = (
  prefix: string,
) => `"status" = ${stepState('running')}, "version" = s."version" + 1,
    "leaseOwner" = v.${prefix}lease, "leaseExpiresAt" = ${utc(`v.${prefix}lease_expires_at`)},
    "startedAt" = ${utc(`v.${prefix}started_at`)}, "finishedAt" = NULL, "updatedAt" = ${utc(`v.${prefix}started_at`)}`;

/** The claim's guard that step `s`'s run is running. */
const RUN_OF_STEP_RUNNING = `EXISTS (SELECT 1 FROM "WorkflowRun" r WHERE r."id" = s."runId" AND r."status" = ${runState('running')})`;

// The two writes every step makes — its claim and its completion — are hand-written SQL so
// that the claims (and completions) of many steps made at the same moment go out as one
// statement (batch.ts), each row still guarded as moveStep guards it. The completion and
// its attempt row are one statement, so they commit together as the transaction did.
const CLAIM_SQL = `
WITH v AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::boolean[])
  AS v(step_id, lease, lease_expires_at, started_at, unchanged_since, run_id, starts_run)
), started AS (
  UPDATE "WorkflowRun" r SET "status" = ${runState('running')}, "version" = r."version" + 1,
    "startedAt" = ${utc('v.started_at')}, "updatedAt" = ${utc('$8::text')}
  FROM v
  WHERE v.starts_run AND r."id" = v.run_id AND r."status" = ${runState('queued')}
  RETURNING r."id"
), claimed AS (
  UPDATE "RunStep" s SET ${claimedStepColumns('')}
  FROM v
  WHERE s."id" = v.step_id AND s."status" = ${stepState('pending')}
    AND (v.unchanged_since IS NULL OR (s."version" = v.unchanged_since AND (
      ${RUN_OF_STEP_RUNNING} OR EXISTS (SELECT 1 FROM started WHERE started."id" = s."runId"))))
  RETURNING s."id" AS "id", s."leaseOwner" AS "lease"
)
SELECT "id", "lease", NULL AS "runId" FROM claimed
UNION ALL SELECT NULL, NULL, "id" FROM started`;

const COMPLETE_SQL = `
WITH v AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
    $8::int[], $9::int[], $10::int[], $11::int[], $12::text[], $13::text[], $14::text[], $15::text[],
    $16::float8[], $17::boolean[], $19::text[], $20::text[], $21::text[], $22::text[], $23::int[])
  AS v(step_id, lease, output, provider, model, persona, finish_reason, latency_ms, attempts, input_tokens,
    output_tokens, finished_at, attempt_id, run_id, started_at, cost_usd, finishes_run, next_step_id, next_lease,
    next_lease_expires_at, next_started_at, next_version)
), moved AS (
  UPDATE "RunStep" s SET "status" = ${stepState('completed')}, "version" = s."version" + 1,
    "output" = v.output, "answeredProvider" = v.provider, "answeredModel" = v.model, "personaUsed" = v.persona,
    "finishReason" = v.finish_reason, "latencyMs" = v.latency_ms, "attempts" = v.attempts,
    "inputTokens" = s."inputTokens" + v.input_tokens, "outputTokens" = s."outputTokens" + v.output_tokens,
    "leaseOwner" = NULL, "leaseExpiresAt" = NULL,
    "finishedAt" = ${utc('v.finished_at')}, "updatedAt" = ${utc('v.finished_at')}
  FROM v
  WHERE s."id" = v.step_id AND s."status" = ${stepState('running')} AND s."leaseOwner" = v.lease
  RETURNING v.attempt_id
), saved AS (
  INSERT INTO "StepAttempt" ("id", "runStepId", "runId", "number", "provider", "model", "outcome", "latencyMs",
    "inputTokens", "outputTokens", "costUsd", "startedAt", "finishedAt")
  SELECT v.attempt_id, v.step_id, v.run_id, v.attempts, v.provider, v.model, 'success'::"AttemptOutcome",
    v.latency_ms, v.input_tokens, v.output_tokens, v.cost_usd, ${utc('v.started_at')}, ${utc('v.finished_at')}
  FROM v JOIN moved USING (attempt_id)
  RETURNING "id"
), finished AS (
  UPDATE "WorkflowRun" r SET "status" = ${runState('completed')}, "version" = r."version" + 1,
    "finishedAt" = ${utc('v.finished_at')}, "updatedAt" = ${utc('$18::text')}
  FROM v JOIN moved USING (attempt_id)
  WHERE v.finishes_run AND r."id" = v.run_id AND r."status" = ${runState('running')}
    AND NOT EXISTS (SELECT 1 FROM "RunStep" o
      WHERE o."runId" = v.run_id AND o."id" <> v.step_id AND o."status" <> ${stepState('completed')})
  RETURNING r."id"
), next_claimed AS (
  UPDATE "RunStep" s SET ${claimedStepColumns('next_')}
  FROM v JOIN moved USING (attempt_id)
  WHERE v.next_step_id IS NOT NULL AND s."id" = v.next_step_id AND s."status" = ${stepState('pending')}
    AND s."version" = v.next_version AND ${RUN_OF_STEP_RUNNING}
  RETURNING s."id", s."leaseOwner"
)
SELECT m.attempt_id AS "attemptId", EXISTS (SELECT 1 FROM finished f WHERE f."id" = v.run_id) AS "runCompleted",
  EXISTS (SELECT 1 FROM next_claimed n WHERE n."id" = v.next_step_id AND n."leaseOwner" = v.next_lease)
    AS "nextClaimed"
FROM moved m JOIN v USING (attempt_id)`;

// moveRun's guarded write: the status, a new version, and when it started or ended. updatedAt
// is the process's time, as Prisma's @updatedAt; startedAt and finishedAt the store's clock.
const MOVE_RUN_SQL = `
UPDATE "WorkflowRun" SET "status" = $2::"RunStatus", "version" = "version" + 1, "updatedAt" = ${utc('$5::text')},
  "startedAt" = CASE WHEN $6::boolean THEN ${utc('$4::text')} ELSE "startedAt" END,
  "finishedAt" = CASE WHEN $7::boolean THEN ${utc('$4::text')} ELSE "finishedAt" END
WHERE "id" = $1 AND "status" = ANY($3::text[]::"RunStatus"[])
RETURNING 1`;

// A run, its steps and its audit row (a re-run's also the old run's) in one statement: one
// round trip instead of a transaction of five, and all-or-nothing as a statement is.
const CREATE_RUN_SQL = `
WITH run AS (
  INSERT INTO "WorkflowRun" ("id", "workflowId", "workflowName", "snapshot", "status", "input", "trigger",
    "startedBy", "channelId", "threadTs", "inThreadTs", "requestKey", "budgetUsd", "rerunOfId",
    "rerunFromPosition", "createdAt", "updatedAt")
  VALUES ($1, $2, $3, $4::jsonb, ${runState('queued')}, $5, $6::"RunTrigger", $7, $8, $9, $10, $11,
    $12::float8, $13, $14::int, ${utc('$15::text')}, ${utc('$15::text')})
  RETURNING "id", "number"
), steps AS (
  INSERT INTO "RunStep" ("id", "runId", "position", "name", "prompt", "provider", "model", "personaId",
    "fallbacks", "retry", "timeoutSeconds", "approval", "overrideProvider", "overrideModel",
    "overridePersonaId", "status", "output", "answeredProvider", "answeredModel", "personaUsed",
    "finishReason", "reusedFrom", "finishedAt", "updatedAt")
  SELECT v.id, run."id", (v.n - 1)::int, v.name, v.prompt, v.provider, v.model, v.persona_id,
    v.fallbacks::jsonb, v.retry::jsonb, v.timeout_seconds, v.approval::jsonb, v.override_provider,
    v.override_model, v.override_persona_id, v.status::"StepStatus", v.output, v.answered_provider,
    v.answered_model, v.persona_used, v.finish_reason, v.reused_from, ${utc('v.finished_at')},
    ${utc('$15::text')}
  FROM run, unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[], $24::text[],
    $25::text[], $26::text[], $27::int[], $28::text[], $29::text[], $30::text[], $31::text[], $32::text[],
    $33::text[], $34::text[], $35::text[], $36::text[], $37::text[], $38::int[], $39::text[])
    WITH ORDINALITY AS v(id, name, prompt, provider, model, persona_id, fallbacks, retry, timeout_seconds,
      approval, override_provider, override_model, override_persona_id, status, output, answered_provider,
      answered_model, persona_used, finish_reason, reused_from, finished_at, n)
  RETURNING 1
), audit AS (
  INSERT INTO "AuditEvent" ("id", "runId", "actor", "action", "fromValue", "toValue", "createdAt")
  SELECT $16::text, run."id", $7, $17::text, NULL, $6::text, ${utc('$15::text')} FROM run
  UNION ALL
  SELECT $18::text, $13, $7, 'run.rerun_as', 'step ' || ($14::int + 1), '#' || run."number",
    ${utc('$15::text')}
  FROM run WHERE $18::text IS NOT NULL
  RETURNING 1
)
SELECT "number" FROM run`;

/**
 * The run aggregate's data: runs, run steps, their attempts and audit rows. The only place
 * that writes a run's or a step's status. Every move is guarded (`updateMany … where status
 * in (allowed sources)`), so two clicks, two replicas or a replayed request can never run a
 * step twice or bring a finished one back; a move that matched nothing changes nothing and
 * returns false. A change, its audit row and its event are one method: the rows commit
 * together, and the event goes out after the commit.
 */
export class RunStore {
  private readonly claims = new Batcher<ClaimRow, ClaimResult>((rows) => this.writeClaims(rows));
  // One refused row (a value the database rejects) must not fail the answers saved beside it.
  private readonly completions = new Batcher<CompletionRow, StepSaved | false>(
    (rows) => this.writeCompletions(rows),
    200,
    (error) => !isTransientDbError(error),
  );

  constructor(
    private readonly prisma: PrismaClient,
    readonly events: EngineEventBus,
    readonly clock: Clock,
    /**
     * The driver itself (Database.query), for the statements every run and step makes: the
     * same connections as Prisma, without its query pipeline, which cost more CPU than the
     * round trip. Never inside a Prisma transaction (the embedded database would wait for it).
     */
    private readonly sql: SqlQuery,
  ) {}

  // ── moves ───────────────────────────────────────────────────────────────────

  async moveRun(
    runId: string,
    to: RunStatus,
    options: MoveOptions<RunStatus> & { data?: RunChanges },
  ): Promise<boolean> {
    const allowed = runSourcesFor(to).filter((s) => !options.from || options.from.includes(s));
    const now = this.clock.now();
    const moved = await this.withAudit(
      options.audit && { runId, actor: options.actor, ...options.audit },
      (tx) =>
        // The engine's own moves (no other column) are hand-written: two a run, every run.
        options.data === undefined
          ? this.moveRunRow(
              tx === this.prisma ? undefined : (tx as Prisma.TransactionClient),
              runId,
              to,
              allowed,
              now,
            )
          : tx.workflowRun
              .updateMany({
                where: { id: runId, status: { in: allowed } },
                data: {
                  ...options.data,
                  status: to,
                  version: { increment: 1 },
                  ...(to === 'running' ? { startedAt: options.data?.startedAt ?? now } : {}),
                  ...(to === 'completed' || to === 'cancelled' || to === 'failed' ? { finishedAt: now } : {}),
                },
              })
              .then(({ count }) => count === 1),
    );
    if (moved) this.events.safeEmit('run.changed', { runId, to, actor: options.actor });
    return moved;
  }

  async moveStep(
    step: { id: string; runId: string },
    to: StepStatus,
    options: MoveOptions<StepStatus> & { data?: StepChanges; where?: StepGuard },
  ): Promise<boolean> {
    const moved = await this.withAudit(
      options.audit && { runId: step.runId, runStepId: step.id, actor: options.actor, ...options.audit },
      (tx) => this.guardedStepMove(tx, step, to, options),
    );
    if (moved) this.stepChanged(step, to, options.actor);
    return moved;
  }

  /**
   * A card edit of a pending or paused step (its provider/model or persona override): the
   * step's version moves on and its status stays. False when the step changed meanwhile.
   */
  async editStep(
    step: { id: string; runId: string },
    options: {
      actor: string;
      editable: readonly StepStatus[];
      version?: number;
      data: StepChanges;
      audit: AuditEntry;
    },
  ): Promise<boolean> {
    const edited = await this.withAudit(
      { runId: step.runId, runStepId: step.id, actor: options.actor, ...options.audit },
      (tx) =>
        tx.runStep
          .updateMany({
            where: {
              id: step.id,
              status: { in: [...options.editable] },
              ...(options.version === undefined ? {} : { version: options.version }),
            },
            data: { ...options.data, version: { increment: 1 } },
          })
          .then(({ count }) => count === 1),
    );
    if (edited)
      this.events.safeEmit('step.edited', {
        runId: step.runId,
        stepId: step.id,
        field: options.audit.action,
        actor: options.actor,
      });
    return edited;
  }

  // ── an execution's writes ───────────────────────────────────────────────────

  /**
   * pending → running for one execution, with its lease: moveStep's guarded write, batched
   * with the claims made at the same moment. False when the step was not pending (or, with
   * `unchangedSince`, was edited or its run stopped running).
   */
  async claimStep(step: { id: string; runId: string }, claim: StepClaim, actor = 'engine'): Promise<boolean> {
    const { claimed, runStarted } = await this.claims.run({ step, claim });
    if (runStarted) this.events.safeEmit('run.changed', { runId: step.runId, to: 'running', actor });
    if (claimed) this.stepChanged(step, 'running', actor);
    return claimed;
  }

  /**
   * running → completed with the answer and its success attempt row, guarded by the lease,
   * with any breaker skips beside it. Without skips it is one statement batched with the
   * completions made at the same moment. `maybeDone`: an earlier try may have committed
   * before its connection was lost; if its attempt row is there, it counts as this one.
   * `awaitApproval`: a gated step's answer goes to `awaiting_approval` instead, and its run
   * with it, in the same transaction (docs/control.md).
   * `done.finishesRun`: the batched statement also completes the run when no other step is left
   * (the answer says so); otherwise the run is left to the caller.
   * False when the lease was lost. Raises attempt.recorded and step.changed once saved, then
   * run.changed when the run was completed with it.
   */
  async completeStep(
    step: { id: string; runId: string },
    done: StepCompletion,
    options: { skips: SkippedCall[]; maybeDone: boolean; awaitApproval?: boolean },
  ): Promise<StepSaved | false> {
    const to: StepStatus = options.awaitApproval ? 'awaiting_approval' : 'completed';
    const saved: StepSaved | false =
      (options.maybeDone &&
        (await this.attemptExists(done.attemptId)) && {
          // An earlier try committed with its answer lost: it may have completed the run, or
          // claimed the next step, too.
          runCompleted: done.finishesRun === true && (await this.runStatus(step.runId)) === 'completed',
          nextClaimed: done.claimNext !== undefined && (await this.holdsLease(done.claimNext)),
        }) ||
      (options.skips.length === 0 && !options.awaitApproval
        ? await this.completions.run({ step, done })
        : await this.prisma.$transaction(async (tx) => {
            const moved = await this.guardedStepMove(tx, step, to, {
              from: ['running'],
              where: { leaseOwner: done.lease },
              data: {
                output: storableText(done.output),
                answeredProvider: done.provider,
                answeredModel: done.model,
                personaUsed: done.persona,
                finishReason: done.finishReason,
                latencyMs: done.latencyMs,
                attempts: done.attempts,
                inputTokens: { increment: done.inputTokens },
                outputTokens: { increment: done.outputTokens },
                leaseOwner: null,
                leaseExpiresAt: null,
                finishedAt: done.finishedAt,
              },
            });
            if (!moved) return false;
            if (options.awaitApproval) {
              await tx.workflowRun.updateMany({
                where: { id: step.runId, status: { in: runSourcesFor('awaiting_approval') } },
                data: { status: 'awaiting_approval', version: { increment: 1 } },
              });
            }
            await tx.stepAttempt.createMany({ data: options.skips, skipDuplicates: true });
            await tx.stepAttempt.create({
              data: {
                id: done.attemptId,
                runStepId: step.id,
                runId: step.runId,
                number: done.attempts,
                provider: done.provider,
                model: done.model,
                outcome: 'success',
                latencyMs: done.latencyMs,
                inputTokens: done.inputTokens,
                outputTokens: done.outputTokens,
                costUsd: done.costUsd,
                startedAt: done.startedAt,
                finishedAt: done.finishedAt,
              },
            });
            return { runCompleted: false, nextClaimed: false };
          }, RUN_TX_OPTIONS));
    if (!saved) return false;
    this.events.safeEmit('attempt.recorded', {
      runId: step.runId,
      stepId: step.id,
      attemptId: done.attemptId,
      provider: done.provider,
      model: done.model,
      outcome: 'success',
      errorKind: null,
      latencyMs: done.latencyMs,
      finishedAt: done.finishedAt,
      inputTokens: done.inputTokens,
      outputTokens: done.outputTokens,
      costUsd: done.costUsd,
      workflow: done.workflow,
    });
    this.stepChanged(step, to, 'engine');
    if (options.awaitApproval)
      this.events.safeEmit('run.changed', { runId: step.runId, to: 'awaiting_approval', actor: 'engine' });
    if (saved.runCompleted)
      this.events.safeEmit('run.changed', { runId: step.runId, to: 'completed', actor: 'engine' });
    if (saved.nextClaimed && done.claimNext)
      this.stepChanged({ id: done.claimNext.stepId, runId: step.runId }, 'running', 'engine');
    return saved;
  }

  /** running → paused with the last error, guarded by the lease, with any breaker skips. */
  async pauseStep(
    step: { id: string; runId: string },
    lease: string,
    data: StepChanges,
    skips: SkippedCall[],
  ): Promise<boolean> {
    const paused = await this.prisma.$transaction(async (tx) => {
      const moved = await this.guardedStepMove(tx, step, 'paused', {
        from: ['running'],
        where: { leaseOwner: lease },
        data: { ...data, leaseOwner: null, leaseExpiresAt: null },
      });
      if (moved && skips.length > 0) await tx.stepAttempt.createMany({ data: skips, skipDuplicates: true });
      return moved;
    }, RUN_TX_OPTIONS);
    if (paused) this.stepChanged(step, 'paused', 'engine');
    return paused;
  }

  /**
   * One failed call: its attempt row and the step's counters, with the lease renewed, only
   * while the lease is ours ('lost' otherwise). `maybeDone` as for completeStep.
   */
  async recordFailure(
    step: { id: string; runId: string },
    lease: { token: string; expiresAt: Date },
    call: FailedCall,
    options: { skips: SkippedCall[]; maybeDone: boolean },
  ): Promise<'saved' | 'lost'> {
    const result = await this.prisma.$transaction(async (tx) => {
      if (
        options.maybeDone &&
        (await tx.stepAttempt.findUnique({ where: { id: call.attemptId }, select: { id: true } }))
      )
        return 'saved' as const;
      const { count } = await tx.runStep.updateMany({
        where: { id: step.id, status: 'running', leaseOwner: lease.token },
        data: { attempts: call.number, leaseExpiresAt: lease.expiresAt },
      });
      if (count === 0) return 'lost' as const;
      if (options.skips.length > 0)
        await tx.stepAttempt.createMany({ data: options.skips, skipDuplicates: true });
      await tx.stepAttempt.create({
        data: {
          id: call.attemptId,
          runStepId: step.id,
          runId: step.runId,
          number: call.number,
          provider: call.provider,
          model: call.model,
          outcome: 'error',
          errorKind: call.errorKind,
          httpStatus: call.httpStatus,
          errorMessage: storableText(call.errorMessage),
          latencyMs: call.latencyMs,
          startedAt: call.startedAt,
          finishedAt: call.finishedAt,
        },
      });
      return 'saved' as const;
    }, RUN_TX_OPTIONS);
    if (result === 'saved')
      this.events.safeEmit('attempt.recorded', {
        runId: step.runId,
        stepId: step.id,
        attemptId: call.attemptId,
        provider: call.provider,
        model: call.model,
        outcome: 'error',
        errorKind: call.errorKind,
        latencyMs: call.latencyMs,
        finishedAt: call.finishedAt,
        costUsd: null,
      });
    return result;
  }

  /** The heartbeat: extends our lease; false when the step is no longer ours. */
  async renewLease(stepId: string, lease: string, expiresAt: Date): Promise<boolean> {
    const { count } = await this.prisma.runStep.updateMany({
      where: { id: stepId, status: 'running', leaseOwner: lease },
      data: { leaseExpiresAt: expiresAt },
    });
    return count === 1;
  }

  // ── runs ────────────────────────────────────────────────────────────────────

  /**
   * A new run with its steps and its 'run.start' audit row (and, for a re-run, the old run's
   * 'run.rerun_as' row), queued; raises run.changed. One statement (CREATE_RUN_SQL), so all of
   * it commits or none does. Returns the rows as written, so the first pass over the run
   * need not read them back. `duplicate` when a run with the same request key exists (a
   * replayed request raced in).
   */
  async createRun(run: NewRun): Promise<CreatedRun | 'duplicate'> {
    // Prisma stamps createdAt/updatedAt with the process's time, not the store's clock: so does this.
    const now = new Date();
    const runId = randomUUID();
    const snapshot = JSON.stringify(run.snapshot ?? null);
    const input = storableText(run.input);
    const steps = run.steps.map((step, position) => newStepRow(step, position, runId, now));
    let number: number;
    try {
      const [row] = await this.sql<{ number: number }>(CREATE_RUN_SQL, [
        runId,
        run.workflowId,
        run.workflowName,
        snapshot,
        input,
        run.trigger,
        run.startedBy,
        run.channelId,
        run.threadTs,
        run.inThreadTs ?? null,
        run.requestKey,
        run.budgetUsd ?? null,
        run.rerunOf?.runId ?? null,
        run.rerunOf?.position ?? null,
        now.toISOString(),
        randomUUID(),
        run.rerunOf ? 'run.rerun' : 'run.start',
        run.rerunOf ? randomUUID() : null,
        steps.map((s) => s.id),
        steps.map((s) => s.name),
        steps.map((s) => s.prompt),
        steps.map((s) => s.provider),
        steps.map((s) => s.model),
        steps.map((s) => s.personaId),
        steps.map((s) => JSON.stringify(s.fallbacks)),
        steps.map((s) => jsonText(s.retry)),
        steps.map((s) => s.timeoutSeconds),
        steps.map((s) => jsonText(s.approval)),
        steps.map((s) => s.overrideProvider),
        steps.map((s) => s.overrideModel),
        steps.map((s) => s.overridePersonaId),
        steps.map((s) => s.status),
        steps.map((s) => s.output),
        steps.map((s) => s.answeredProvider),
        steps.map((s) => s.answeredModel),
        steps.map((s) => s.personaUsed),
        steps.map((s) => s.finishReason),
        steps.map((s) => s.reusedFrom),
        steps.map((s) => s.finishedAt?.toISOString() ?? null),
      ]);
      number = Number(row!.number);
    } catch (error) {
      if (run.requestKey && isUniqueViolation(error)) return 'duplicate';
      throw error;
    }
    const created: RunRow = {
      id: runId,
      number,
      workflowId: run.workflowId,
      workflowName: run.workflowName,
      // As the database hands jsonb back: plain JSON, undefined fields gone.
      snapshot: JSON.parse(snapshot) as Prisma.JsonValue,
      status: 'queued',
      input,
      trigger: run.trigger,
      startedBy: run.startedBy,
      channelId: run.channelId,
      threadTs: run.threadTs,
      inThreadTs: run.inThreadTs ?? null,
      requestKey: run.requestKey,
      reason: null,
      rerunOfId: run.rerunOf?.runId ?? null,
      rerunFromPosition: run.rerunOf?.position ?? null,
      budgetUsd: run.budgetUsd ?? null,
      version: 0,
      createdAt: now,
      startedAt: null,
      finishedAt: null,
      updatedAt: now,
    };
    this.events.safeEmit('run.changed', { runId, to: 'queued', actor: run.startedBy });
    return { run: created, steps };
  }

  run(runId: string): Promise<RunRow | null> {
    return this.prisma.workflowRun.findUnique({ where: { id: runId } });
  }

  runByNumber(number: number): Promise<RunRow | null> {
    return this.prisma.workflowRun.findUnique({ where: { number } });
  }

  runByRequestKey(key: string): Promise<RunRow | null> {
    return this.prisma.workflowRun.findUnique({ where: { requestKey: key } });
  }

  async runStatus(runId: string): Promise<RunStatus | undefined> {
    return (await this.prisma.workflowRun.findUnique({ where: { id: runId }, select: { status: true } }))
      ?.status;
  }

  runWithSteps(runId: string) {
    return this.prisma.workflowRun.findUnique({
      where: { id: runId },
      include: { steps: { orderBy: { position: 'asc' } } },
    });
  }

  async setThread(runId: string, channelId: string, threadTs: string): Promise<void> {
    await this.prisma.workflowRun.update({ where: { id: runId }, data: { channelId, threadTs } });
  }

  /** Steps of a run in order. */
  steps(runId: string): Promise<RunStepRow[]> {
    return this.prisma.runStep.findMany({ where: { runId }, orderBy: { position: 'asc' } });
  }

  step(stepId: string): Promise<RunStepRow | null> {
    return this.prisma.runStep.findUnique({ where: { id: stepId } });
  }

  // ── where a run shows in Slack ──────────────────────────────────────────────

  /**
   * Claims the first post of a run's parent message (`run`) or a step's card (`step`): a
   * guarded write of `claim` over what was read (`current`: null or a stale claim). False
   * when another process changed it first.
   */
  async claimMessage(
    kind: 'run' | 'step',
    id: string,
    current: string | null,
    claim: string,
  ): Promise<boolean> {
    const { count } =
      kind === 'run'
        ? await this.prisma.workflowRun.updateMany({
            where: { id, threadTs: current },
            data: { threadTs: claim },
          })
        : await this.prisma.runStep.updateMany({ where: { id, slackTs: current }, data: { slackTs: claim } });
    return count === 1;
  }

  /** The ts of a step's posted card. */
  async setCardTs(stepId: string, ts: string): Promise<void> {
    await this.prisma.runStep.update({ where: { id: stepId }, data: { slackTs: ts } });
  }

  /** Where a step's failure alert was posted. */
  async setAlert(stepId: string, channel: string, ts: string): Promise<void> {
    await this.prisma.runStep.updateMany({
      where: { id: stepId },
      data: { alertChannel: channel, alertTs: ts },
    });
  }

  /** Where a step's latest pause note was posted in its run's thread (docs/slack.md). */
  async setNote(stepId: string, ts: string): Promise<void> {
    await this.prisma.runStep.updateMany({ where: { id: stepId }, data: { noteTs: ts } });
  }

  /**
   * Records the live-output stream message of a step (docs/slack.md, "Live output") and
   * returns the one recorded before, if any: a stream a stopped process left open, which
   * the caller closes.
   */
  async swapLiveTs(stepId: string, ts: string): Promise<string | null> {
    for (let i = 0; i < 3; i++) {
      const row = await this.prisma.runStep.findUnique({ where: { id: stepId }, select: { liveTs: true } });
      if (!row) return null;
      const { count } = await this.prisma.runStep.updateMany({
        where: { id: stepId, liveTs: row.liveTs },
        data: { liveTs: ts },
      });
      if (count === 1) return row.liveTs;
    }
    return null;
  }

  /**
   * Takes the step's live-output stream message off the record (only `ts` when given):
   * returns it to the one caller that should close it, or null.
   */
  async takeLiveTs(stepId: string, ts?: string): Promise<string | null> {
    const row =
      ts === undefined
        ? await this.prisma.runStep.findUnique({ where: { id: stepId }, select: { liveTs: true } })
        : { liveTs: ts };
    if (!row?.liveTs) return null;
    const { count } = await this.prisma.runStep.updateMany({
      where: { id: stepId, liveTs: row.liveTs },
      data: { liveTs: null },
    });
    return count === 1 ? row.liveTs : null;
  }

  // ── recovery ────────────────────────────────────────────────────────────────

  /** Running steps whose lease has lapsed (or every running step), with their run's status. */
  orphanedSteps(options: { takeAllRunning: boolean }) {
    const now = this.clock.now();
    return this.prisma.runStep.findMany({
      where: {
        status: 'running',
        ...(options.takeAllRunning
          ? {}
          : { OR: [{ leaseExpiresAt: { lt: now } }, { leaseExpiresAt: null }] }),
      },
      include: { run: { select: { status: true } } },
    });
  }

  /** Runs with work left and no step running: nobody is advancing them. Oldest first. */
  async idleRunIds(): Promise<string[]> {
    const rows = await this.prisma.workflowRun.findMany({
      where: { status: { in: ['queued', 'running'] }, steps: { none: { status: 'running' } } },
      select: { id: true },
      orderBy: { createdAt: 'asc' },
    });
    return rows.map((r) => r.id);
  }

  /** Provider calls (successes and errors) that finished since `since`, newest first, at most `take`. */
  recentCalls(since: Date, take: number) {
    return this.prisma.stepAttempt.findMany({
      where: { finishedAt: { gte: since }, outcome: { in: ['success', 'error'] } },
      orderBy: { finishedAt: 'desc' },
      take,
      select: {
        id: true,
        provider: true,
        model: true,
        outcome: true,
        errorKind: true,
        latencyMs: true,
        finishedAt: true,
      },
    });
  }

  /** How many runs a starter has queued or running (MAX_RUNS_IN_FLIGHT_PER_USER). */
  runsInFlightOf(startedBy: string): Promise<number> {
    return this.prisma.workflowRun.count({ where: { startedBy, status: { in: ['queued', 'running'] } } });
  }

  /** The newest run a starter (e.g. "schedule:<id>") has queued, running or paused. */
  activeRunOf(startedBy: string) {
    return this.prisma.workflowRun.findFirst({
      where: { startedBy, status: { in: ['queued', 'running', 'paused', 'awaiting_approval'] } },
      orderBy: { createdAt: 'desc' },
      select: { id: true, number: true, status: true },
    });
  }

  /** Scheduled runs paused on a failure, with their paused steps' last change. */
  pausedScheduledRuns() {
    return this.prisma.workflowRun.findMany({
      where: { status: 'paused', trigger: 'schedule', startedBy: { startsWith: 'schedule:' } },
      select: {
        id: true,
        number: true,
        workflowName: true,
        startedBy: true,
        channelId: true,
        updatedAt: true,
        steps: { where: { status: 'paused' }, select: { updatedAt: true } },
      },
    });
  }

  // ── approvals (docs/control.md) ─────────────────────────────────────────────

  /**
   * A decision on a step awaiting approval: the step and its run move together, with the
   * audit row, in one transaction, guarded by the step's status and version (the card's).
   * Two approvers clicking at once: the first write matches, the second matches nothing and
   * returns false. Approve: completed + running. Reject: paused + paused. Timeout: failed +
   * failed (its pending steps skipped).
   */
  async decideApproval(
    step: { id: string; runId: string },
    decision: {
      to: 'completed' | 'paused' | 'failed';
      actor: string;
      version?: number | undefined;
      data?: StepChanges;
      runData?: RunChanges;
      audit: AuditEntry;
    },
  ): Promise<boolean> {
    const runTo: RunStatus = decision.to === 'completed' ? 'running' : decision.to;
    const now = this.clock.now();
    const moved = await this.prisma
      .$transaction(async (tx) => {
        const { count } = await tx.runStep.updateMany({
          where: {
            id: step.id,
            status: 'awaiting_approval',
            ...(decision.version === undefined ? {} : { version: decision.version }),
          },
          data: { ...decision.data, status: decision.to, version: { increment: 1 } },
        });
        if (count === 0) return false;
        const run = await tx.workflowRun.updateMany({
          where: { id: step.runId, status: 'awaiting_approval' },
          data: {
            ...decision.runData,
            status: runTo,
            version: { increment: 1 },
            ...(runTo === 'failed' ? { finishedAt: now } : {}),
          },
        });
        // A step awaiting approval whose run is not (a bug, a hand edit): change nothing.
        if (run.count === 0) throw new NotAwaiting();
        if (decision.to === 'failed') {
          await tx.runStep.updateMany({
            where: { runId: step.runId, status: 'pending' },
            data: { status: 'skipped', version: { increment: 1 } },
          });
        }
        await tx.auditEvent.create({
          data: {
            runId: step.runId,
            runStepId: step.id,
            actor: decision.actor,
            action: decision.audit.action,
            fromValue: decision.audit.fromValue ?? null,
            toValue: decision.audit.toValue ?? null,
          },
        });
        return true;
      }, RUN_TX_OPTIONS)
      .catch((error: unknown) => {
        if (error instanceof NotAwaiting) return false;
        throw error;
      });
    if (!moved) return false;
    this.stepChanged(step, decision.to, decision.actor);
    this.events.safeEmit('run.changed', { runId: step.runId, to: runTo, actor: decision.actor });
    return true;
  }

  /**
   * Marks a waiting approval as escalated (its timeout passed, on_timeout: escalate), once:
   * guarded on the mark being unset, so one process tells the alert channel. Raises
   * step.edited with field "step.approval_escalate".
   */
  async escalateApproval(step: { id: string; runId: string }, at: Date, actor: string): Promise<boolean> {
    const done = await this.withAudit(
      { runId: step.runId, runStepId: step.id, actor, action: 'step.approval_escalate' },
      (tx) =>
        tx.runStep
          .updateMany({
            where: { id: step.id, status: 'awaiting_approval', approvalEscalatedAt: null },
            data: { approvalEscalatedAt: at },
          })
          .then(({ count }) => count === 1),
    );
    if (done)
      this.events.safeEmit('step.edited', {
        runId: step.runId,
        stepId: step.id,
        field: 'step.approval_escalate',
        actor,
      });
    return done;
  }

  /** Steps waiting for approval with a gate that has a timeout, oldest first (the sweep's work list). */
  awaitingApprovals() {
    return this.prisma.runStep.findMany({
      where: { status: 'awaiting_approval' },
      orderBy: { finishedAt: 'asc' },
      select: {
        id: true,
        runId: true,
        name: true,
        position: true,
        version: true,
        approval: true,
        approvalEscalatedAt: true,
        finishedAt: true,
        updatedAt: true,
      },
    });
  }

  /**
   * Sets a run's spending cap (raised from Slack), guarded by the cap the caller saw, with
   * its audit row. False when the cap changed meanwhile.
   */
  async setRunBudget(
    runId: string,
    change: { from: number | null; to: number; actor: string },
  ): Promise<boolean> {
    return this.withAudit(
      {
        runId,
        actor: change.actor,
        action: 'run.budget',
        fromValue: change.from === null ? null : String(change.from),
        toValue: String(change.to),
      },
      (tx) =>
        tx.workflowRun
          .updateMany({ where: { id: runId, budgetUsd: change.from }, data: { budgetUsd: change.to } })
          .then(({ count }) => count === 1),
    );
  }

  // ── internals ───────────────────────────────────────────────────────────────

  /** MOVE_RUN_SQL: through the driver, or in `tx` when it goes with an audit row. */
  private async moveRunRow(
    tx: Prisma.TransactionClient | undefined,
    runId: string,
    to: RunStatus,
    allowed: RunStatus[],
    now: Date,
  ): Promise<boolean> {
    const params = [
      runId,
      to,
      allowed,
      now.toISOString(),
      new Date().toISOString(),
      to === 'running',
      to === 'completed' || to === 'cancelled' || to === 'failed',
    ];
    if (tx) return (await tx.$executeRawUnsafe(MOVE_RUN_SQL, ...params)) === 1;
    return (await this.sql(MOVE_RUN_SQL, params)).length === 1;
  }

  private stepChanged(step: { id: string; runId: string }, to: StepStatus, actor: string): void {
    this.events.safeEmit('step.changed', { runId: step.runId, stepId: step.id, to, actor });
  }

  /** The step is running under this claim's lease. */
  private async holdsLease(next: { stepId: string; claim: StepClaim }): Promise<boolean> {
    const row = await this.step(next.stepId);
    return row?.status === 'running' && row.leaseOwner === next.claim.lease;
  }

  private async attemptExists(id: string): Promise<boolean> {
    return (await this.prisma.stepAttempt.findUnique({ where: { id }, select: { id: true } })) !== null;
  }

  private async guardedStepMove(
    tx: Prisma.TransactionClient | PrismaClient,
    step: { id: string },
    to: StepStatus,
    options: { from?: readonly StepStatus[]; data?: StepChanges; where?: StepGuard },
  ): Promise<boolean> {
    const allowed = stepSourcesFor(to).filter((s) => !options.from || options.from.includes(s));
    const data = { ...options.data };
    // An error's text may quote a provider's (or a model's) words: keep it storable.
    if (typeof data.lastErrorMessage === 'string')
      data.lastErrorMessage = storableText(data.lastErrorMessage);
    const { count } = await tx.runStep.updateMany({
      where: { ...options.where, id: step.id, status: { in: allowed } },
      data: { ...data, status: to, version: { increment: 1 } },
    });
    return count === 1;
  }

  /** Runs `change`; with an audit entry, in one transaction that writes it when the change happened. */
  private async withAudit(
    audit: (AuditEntry & { runId: string; runStepId?: string; actor: string }) | undefined,
    change: (tx: Prisma.TransactionClient | PrismaClient) => Promise<boolean>,
  ): Promise<boolean> {
    if (!audit) return change(this.prisma);
    return this.prisma.$transaction(async (tx) => {
      if (!(await change(tx))) return false;
      await tx.auditEvent.create({
        data: {
          runId: audit.runId,
          runStepId: audit.runStepId ?? null,
          actor: audit.actor,
          action: audit.action,
          fromValue: audit.fromValue ?? null,
          toValue: audit.toValue ?? null,
        },
      });
      return true;
    }, RUN_TX_OPTIONS);
  }

  private async writeClaims(rows: ClaimRow[]): Promise<ClaimResult[]> {
    const answer = await this.sql<{ id: string | null; lease: string | null; runId: string | null }>(
      CLAIM_SQL,
      [
        rows.map((r) => r.step.id),
        rows.map((r) => r.claim.lease),
        rows.map((r) => r.claim.leaseExpiresAt.toISOString()),
        rows.map((r) => r.claim.startedAt.toISOString()),
        rows.map((r) => r.claim.unchangedSince ?? null),
        rows.map((r) => r.step.runId),
        rows.map((r) => r.claim.startsRun === true),
        new Date().toISOString(),
      ],
    );
    // Two claims of one step in one batch: the row holds one lease, and only its owner won.
    const leases = new Set(answer.filter((a) => a.id !== null).map((a) => `${a.id} ${a.lease}`));
    // A run is started once, told once: by the first of its claims that asked.
    const started = new Set(answer.flatMap((a) => (a.runId === null ? [] : [a.runId])));
    return rows.map((r) => {
      const runStarted = r.claim.startsRun === true && started.delete(r.step.runId);
      return { claimed: leases.has(`${r.step.id} ${r.claim.lease}`), runStarted };
    });
  }

  private async writeCompletions(rows: CompletionRow[]): Promise<(StepSaved | false)[]> {
    const d = rows.map((r) => r.done);
    const saved = await this.sql<{ attemptId: string; runCompleted: boolean; nextClaimed: boolean }>(
      COMPLETE_SQL,
      [
        rows.map((r) => r.step.id),
        d.map((x) => x.lease),
        d.map((x) => storableText(x.output)),
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
        d.map((x) => x.costUsd),
        d.map((x) => x.finishesRun === true),
        new Date().toISOString(),
        d.map((x) => x.claimNext?.stepId ?? null),
        d.map((x) => x.claimNext?.claim.lease ?? null),
        d.map((x) => x.claimNext?.claim.leaseExpiresAt.toISOString() ?? null),
        d.map((x) => x.claimNext?.claim.startedAt.toISOString() ?? null),
        d.map((x) => x.claimNext?.claim.unchangedSince ?? null),
      ],
    );
    const byAttempt = new Map(
      saved.map((s) => [s.attemptId, { runCompleted: s.runCompleted, nextClaimed: s.nextClaimed }]),
    );
    return d.map((x) => byAttempt.get(x.attemptId) ?? false);
  }
}
