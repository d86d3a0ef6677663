import type { PrismaClient } from './database.js';
import type { RunRow, RunStepRow } from './run-store.js';

/**
 * The read model of runs for the Slack layer, App Home, commands and metrics: every read of
 * runs, steps, attempts and their audit rows that is not the engine's own. Writes go
 * through RunStore.
 */

export type RunWithSteps = RunRow & { steps: RunStepRow[] };

/** What a permission check reads about a run. */
export interface RunAccessRow {
  number: number;
  startedBy: string;
  channelId: string | null;
  snapshot: unknown;
  workflow: { owners: string[]; notify: string | null };
}

/** The attempt columns a card's "why it moved on" note reads. */
export interface AttemptNoteRow {
  runStepId: string;
  number: number;
  provider: string;
  model: string;
  outcome: 'success' | 'error' | 'skipped';
  errorKind: string | null;
  startedAt: Date;
  /** USD at the price known when it was recorded; null: unknown (or not billed: a failure). */
  costUsd: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
}

/** What a run's answered calls used and cost (docs/control.md, "Cost"). */
export interface RunUsage {
  inputTokens: number;
  outputTokens: number;
  /** Sum of the calls with a known price. */
  costUsd: number;
  /** Answered calls with no known price: the cost is then unknown in part. */
  unpriced: number;
}

const stepsInOrder = { steps: { orderBy: { position: 'asc' as const } } };

export class RunReads {
  constructor(private readonly prisma: PrismaClient) {}

  runWithSteps(runId: string): Promise<RunWithSteps | null> {
    return this.prisma.workflowRun.findUnique({ where: { id: runId }, include: stepsInOrder });
  }

  /** Every attempt of a run, in order, for the cards' notes. */
  attemptsOf(runId: string): Promise<AttemptNoteRow[]> {
    return this.prisma.stepAttempt.findMany({
      where: { runId },
      orderBy: { number: 'asc' },
      select: {
        runStepId: true,
        number: true,
        provider: true,
        model: true,
        outcome: true,
        errorKind: true,
        startedAt: true,
        costUsd: true,
        inputTokens: true,
        outputTokens: true,
      },
    });
  }

  /** Tokens and cost of the answered calls of each run (failed calls are not billed). */
  async usageOf(runIds: readonly string[]): Promise<Map<string, RunUsage>> {
    if (runIds.length === 0) return new Map();
    const rows = await this.prisma.stepAttempt.groupBy({
      by: ['runId'],
      where: { runId: { in: [...runIds] }, outcome: 'success' },
      _sum: { inputTokens: true, outputTokens: true, costUsd: true },
      _count: { _all: true, costUsd: true },
    });
    return new Map(
      rows.map((r) => [
        r.runId,
        {
          inputTokens: r._sum.inputTokens ?? 0,
          outputTokens: r._sum.outputTokens ?? 0,
          costUsd: r._sum.costUsd ?? 0,
          unpriced: r._count._all - r._count.costUsd,
        },
      ]),
    );
  }

  /** What every answered call since `since` cost (App Home's "spent today"). */
  async spendSince(since: Date): Promise<{ costUsd: number; unpriced: number }> {
    const row = await this.prisma.stepAttempt.aggregate({
      where: { finishedAt: { gte: since }, outcome: 'success' },
      _sum: { costUsd: true },
      _count: { _all: true, costUsd: true },
    });
    return { costUsd: row._sum.costUsd ?? 0, unpriced: row._count._all - row._count.costUsd };
  }

  /** A run's number by id (a re-run's parent message names the run it re-runs). */
  runNumber(runId: string): Promise<number | undefined> {
    return this.prisma.workflowRun
      .findUnique({ where: { id: runId }, select: { number: true } })
      .then((r) => r?.number);
  }

  step(stepId: string): Promise<RunStepRow | null> {
    return this.prisma.runStep.findUnique({ where: { id: stepId } });
  }

  /** A run's number, workflow and step count (for a step's full output). */
  runSummary(runId: string) {
    return this.prisma.workflowRun.findUnique({
      where: { id: runId },
      select: { number: true, workflowName: true, channelId: true, _count: { select: { steps: true } } },
    });
  }

  runAccess(runId: string): Promise<RunAccessRow | null> {
    return this.prisma.workflowRun.findUnique({
      where: { id: runId },
      select: {
        number: true,
        startedBy: true,
        channelId: true,
        snapshot: true,
        workflow: { select: { owners: true, notify: true } },
      },
    });
  }

  /** The newest runs, optionally of one channel, with their steps. */
  recentRuns(options: { take: number; channelId?: string }): Promise<RunWithSteps[]> {
    return this.prisma.workflowRun.findMany({
      where: options.channelId ? { channelId: options.channelId } : {},
      orderBy: { number: 'desc' },
      take: options.take,
      include: stepsInOrder,
    });
  }

  /**
   * The newest runs' ids and channels, at most `take`, optionally only paused ones: what a
   * visibility filter reads before loading the runs someone may see (runsWithSteps).
   */
  runChannels(options: {
    take: number;
    /** Only runs waiting for someone: paused, or awaiting an approval. */
    waiting?: boolean;
  }): Promise<{ id: string; channelId: string | null }[]> {
    return this.prisma.workflowRun.findMany({
      where: options.waiting ? { status: { in: ['paused', 'awaiting_approval'] } } : {},
      orderBy: { number: 'desc' },
      take: options.take,
      select: { id: true, channelId: true },
    });
  }

  /** These runs with their steps, newest first. */
  runsWithSteps(ids: readonly string[]): Promise<RunWithSteps[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.prisma.workflowRun.findMany({
      where: { id: { in: [...ids] } },
      orderBy: { number: 'desc' },
      include: stepsInOrder,
    });
  }

  /**
   * Runs waiting for someone — paused, or awaiting an approval — newest first, at most
   * `take`; and how many there are in all.
   */
  async pausedRuns(take: number): Promise<{ ids: string[]; total: number }> {
    const where = { status: { in: ['paused' as const, 'awaiting_approval' as const] } };
    const rows = await this.prisma.workflowRun.findMany({
      where,
      orderBy: { number: 'desc' },
      take,
      select: { id: true },
    });
    const total = rows.length < take ? rows.length : await this.prisma.workflowRun.count({ where });
    return { ids: rows.map((r) => r.id), total };
  }

  /** Runs not finished that have a channel: their cards may need redrawing after a restart. */
  async unfinishedRunIds(terminal: readonly string[]): Promise<string[]> {
    const rows = await this.prisma.workflowRun.findMany({
      where: { status: { notIn: [...terminal] as RunRow['status'][] }, channelId: { not: null } },
      select: { id: true },
    });
    return rows.map((r) => r.id);
  }

  workflowNameOf(runId: string): Promise<string | undefined> {
    return this.prisma.workflowRun
      .findUnique({ where: { id: runId }, select: { workflowName: true } })
      .then((r) => r?.workflowName);
  }

  /** Where a run's thread is. */
  thread(runId: string) {
    return this.prisma.workflowRun.findUnique({
      where: { id: runId },
      select: { channelId: true, threadTs: true },
    });
  }

  /** A step's failure alert and last error. */
  alertOf(stepId: string) {
    return this.prisma.runStep.findUnique({
      where: { id: stepId },
      select: {
        alertChannel: true,
        alertTs: true,
        noteTs: true,
        lastErrorKind: true,
        lastErrorProvider: true,
        lastErrorModel: true,
      },
    });
  }

  /** What people did to rescue a paused step: its model, persona and retry changes, and resumes. */
  rescueActions(runId: string, stepId: string) {
    return this.prisma.auditEvent.findMany({
      where: {
        runId,
        OR: [
          { runStepId: stepId, action: { in: ['step.model', 'step.persona', 'step.retry'] } },
          { action: 'run.resume' },
        ],
      },
      orderBy: { createdAt: 'asc' },
    });
  }

  /** The newest call to a provider. */
  lastCallTo(provider: string) {
    return this.prisma.stepAttempt.findFirst({
      where: { provider },
      orderBy: { finishedAt: 'desc' },
      select: { outcome: true, errorKind: true, model: true },
    });
  }

  /** How many runs are paused, waiting for someone (the metrics gauge). */
  countPaused(): Promise<number> {
    return this.prisma.workflowRun.count({ where: { status: 'paused' } });
  }
}
