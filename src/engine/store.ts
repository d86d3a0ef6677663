import type { Prisma, PrismaClient } from '../db/generated/client.js';
import type { Clock } from './clock.js';
import type { EngineEventBus } from './events.js';
import { type RunStatus, runSourcesFor, type StepStatus, stepSourcesFor } from './states.js';

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
export class RunStore {
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

  /** Steps of a run in order. */
  steps(runId: string) {
    return this.prisma.runStep.findMany({ where: { runId }, orderBy: { position: 'asc' } });
  }

  run(runId: string) {
    return this.prisma.workflowRun.findUnique({ where: { id: runId } });
  }
}
