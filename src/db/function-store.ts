import type { Clock } from '../core/clock.js';
import type { FunctionExecution, PrismaClient } from './generated/client.js';

/**
 * Workflow Builder steps (Slack custom functions) waiting for the runs they started: which
 * execution, with which token, and whether Slack was told the outcome. The run is found by
 * its request key (`functionRunKey`); Slack is told once, claimed by a guarded write on
 * `outcome` (null → "success" | "error"), so two processes or a replayed event never call
 * functions.completeSuccess twice.
 */

export type FunctionExecutionRow = FunctionExecution;

/** The run a function execution started carries this request key (its idempotency key). */
export function functionRunKey(executionId: string): string {
  return `slack-function:${executionId}`;
}

/** The execution id in a run's request key, or undefined for a run no function started. */
export function executionOfRunKey(key: string | null | undefined): string | undefined {
  return key?.startsWith('slack-function:') ? key.slice('slack-function:'.length) : undefined;
}

export class FunctionStore {
  constructor(
    private readonly prisma: PrismaClient,
    private readonly clock: Pick<Clock, 'now'>,
  ) {}

  /**
   * Records an execution before its run starts (a replayed event keeps the first record's
   * time and takes the newest token, which Slack sends with every delivery).
   */
  async record(e: { id: string; callbackId: string; workflow: string; token: string }): Promise<void> {
    await this.prisma.functionExecution.upsert({
      where: { id: e.id },
      create: { ...e, createdAt: this.clock.now() },
      update: { token: e.token },
    });
  }

  get(id: string): Promise<FunctionExecutionRow | null> {
    return this.prisma.functionExecution.findUnique({ where: { id } });
  }

  /** Executions Slack has not been told about yet, oldest first. */
  open(take = 500): Promise<FunctionExecutionRow[]> {
    return this.prisma.functionExecution.findMany({
      where: { outcome: null },
      orderBy: { createdAt: 'asc' },
      take,
    });
  }

  /** Claims telling Slack: true for the one caller whose write found it still open. */
  async claim(id: string, outcome: 'success' | 'error', error?: string): Promise<boolean> {
    const { count } = await this.prisma.functionExecution.updateMany({
      where: { id, outcome: null },
      data: { outcome, error: error ?? null, completedAt: this.clock.now() },
    });
    return count === 1;
  }

  /** Gives a claim back after a call Slack may take later (network, 5xx): the next sweep retries. */
  async release(id: string): Promise<void> {
    await this.prisma.functionExecution.updateMany({
      where: { id },
      data: { outcome: null, error: null, completedAt: null },
    });
  }
}
