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
  steps: { alertChannel: string | null }[];
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
      },
    });
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
        steps: { select: { alertChannel: true } },
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

  /** Paused runs, newest first, at most `take`; and how many there are in all. */
  async pausedRuns(take: number): Promise<{ ids: string[]; total: number }> {
    const rows = await this.prisma.workflowRun.findMany({
      where: { status: 'paused' },
      orderBy: { number: 'desc' },
      take,
      select: { id: true },
    });
    const total =
      rows.length < take ? rows.length : await this.prisma.workflowRun.count({ where: { status: 'paused' } });
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
