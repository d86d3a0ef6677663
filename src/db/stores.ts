import type { Clock } from '../core/clock.js';
import type { EngineEventBus } from '../core/events.js';
import { BudgetLedger } from './budget-ledger.js';
import type { Database } from './database.js';
import { FunctionStore } from './function-store.js';
import { RunReads } from './run-reads.js';
import { RunStore } from './run-store.js';
import { ScheduleStore } from './schedule-store.js';
import { SlackCoordination } from './slack-coordination.js';
import { WorkflowStore } from './workflow-store.js';

/**
 * The data layer, one store per aggregate: every Prisma query and raw statement of the bot
 * is in one of these modules. Built once per database (src/bootstrap.ts).
 */
export interface Stores {
  /** Runs, run steps, attempts and their audit rows; the only writer of status. */
  runs: RunStore;
  /** Workflows, versions and personas. */
  workflows: WorkflowStore;
  /** Schedules and firings. */
  schedules: ScheduleStore;
  /** Reads of runs for Slack, App Home, commands and metrics. */
  reads: RunReads;
  /** Workflow Builder steps waiting for their runs. */
  functions: FunctionStore;
  /** Spending reserved and settled against budget caps. */
  budgets: BudgetLedger;
  /**
   * Slack's budget and pending messages shared by the processes on one PostgreSQL database;
   * undefined on the embedded one (one process: the publisher's own buckets are the budget).
   */
  slack?: SlackCoordination | undefined;
}

export function openStores(db: Database, events: EngineEventBus, clock: Clock): Stores {
  return {
    runs: new RunStore(db.prisma, events, clock, db.query),
    workflows: new WorkflowStore(db.prisma, db.query),
    schedules: new ScheduleStore(db.prisma),
    reads: new RunReads(db.prisma),
    functions: new FunctionStore(db.prisma, clock),
    budgets: new BudgetLedger(db.prisma),
    slack: db.kind === 'postgres' ? new SlackCoordination(db.prisma, db.url) : undefined,
  };
}
