import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Config } from '../config.js';
import { type Clock, systemClock } from '../core/clock.js';
import type { PriceList } from '../core/cost.js';
import { EngineEventBus } from '../core/events.js';
import type { HealthGate, ModelCatalogue, Providers } from '../core/ports.js';
import type { Database } from '../db/database.js';
import type { RunStore } from '../db/run-store.js';
import { openStores, type Stores } from '../db/stores.js';
import type { WorkflowStore } from '../db/workflow-store.js';
import type { Logger } from '../logging.js';
import { buildPriceList } from '../providers/prices.js';
import { Approvals, expireApprovals } from './approvals.js';
import { BudgetGuard } from './budget.js';
import { Executor } from './executor.js';
import { PgBossQueue } from './pgboss-queue.js';
import { planStep } from './plan.js';
import { InProcessQueue, type RunHandOff, type WorkQueue } from './queue.js';
import { recoverOrphans } from './recovery.js';
import { Reruns } from './rerun.js';
import { RunsService } from './runs.js';
import { type PersonaSnapshot, readSnapshot } from './snapshot.js';

export interface EngineOptions {
  db: Database;
  /** The data layer on `db`; opened here when not given. */
  stores?: Stores;
  config: Pick<Config, 'defaults' | 'retry' | 'stepTimeoutMs' | 'worker'> &
    Partial<Pick<Config, 'retryJitter' | 'stepDeadlineMs' | 'budget' | 'limits' | 'liveOutput'>>;
  /** Model prices (src/providers/prices.ts): cost per call, and budgets. Default: the built-in ones. */
  prices?: PriceList;
  providers: Providers;
  catalogue: ModelCatalogue;
  logger: Logger;
  clock?: Clock;
  /** Defaults to pg-boss on PostgreSQL and an in-process queue on the embedded database. */
  queue?: WorkQueue;
  health?: HealthGate;
  /** Lease owner id; defaults to host:pid:random. */
  owner?: string;
  /** How often to look for orphaned steps and idle runs (default: half the lease). */
  sweepMs?: number;
  random?: () => number;
  /** Removes configured secrets from text before it is stored (createCore passes the keys). */
  redact?: (text: string) => string;
}

/** Wires store, queue, executor, runs service and recovery together. */
export class Engine {
  readonly events: EngineEventBus;
  readonly stores: Stores;
  readonly store: RunStore;
  readonly workflows: WorkflowStore;
  readonly queue: WorkQueue;
  readonly executor: Executor;
  readonly runs: RunsService;
  /** Approve, edit or reject a gated step's output (docs/control.md). */
  readonly approvals: Approvals;
  /** Re-run a finished run from a step. */
  readonly reruns: Reruns;
  readonly budget: BudgetGuard;
  readonly owner: string;
  private sweepTimer: NodeJS.Timeout | undefined;
  private started = false;

  constructor(private readonly o: EngineOptions) {
    const clock = o.clock ?? systemClock;
    this.owner = o.owner ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.stores = o.stores ?? openStores(o.db, new EngineEventBus(), clock);
    this.events = this.stores.runs.events;
    this.store = this.stores.runs;
    this.workflows = this.stores.workflows;
    this.queue = o.queue ?? defaultQueue(o.db);
    this.events.onListenerError = (error, event) =>
      o.logger.error(
        { err: error instanceof Error ? error.message : String(error), event },
        'event listener failed',
      );
    const planContext = {
      catalogue: o.catalogue,
      globalDefault: o.config.defaults,
      globalRetry: {
        ...o.config.retry,
        jitter: o.config.retryJitter,
        deadlineMs: o.config.stepDeadlineMs,
      },
      defaultTimeoutMs: o.config.stepTimeoutMs,
    };
    this.budget = new BudgetGuard({
      ledger: this.stores.budgets,
      prices: o.prices ?? buildPriceList(),
      settings: {
        dailyUsd: o.config.budget?.dailyUsd,
        maxOutputTokens: o.config.budget?.maxOutputTokens ?? DEFAULT_MAX_OUTPUT_TOKENS,
      },
      clock,
      logger: o.logger,
    });
    this.executor = new Executor({
      budget: this.budget,
      store: this.store,
      providers: o.providers,
      logger: o.logger,
      owner: this.owner,
      leaseMs: o.config.worker.leaseMs,
      health: o.health,
      random: o.random,
      redact: o.redact,
      maxOutputBytes: o.config.limits?.maxOutputBytes,
      streaming: o.config.liveOutput ?? true,
      plan: async (run, step) => {
        const snapshot = readSnapshot(run.snapshot);
        let personas: Record<string, PersonaSnapshot> = snapshot.personas;
        // A persona picked from the card after the run started is read as it is now.
        if (step.overridePersonaId && !personas[step.overridePersonaId]) {
          const row = await this.workflows.personaById(step.overridePersonaId, { includeDisabled: true });
          if (row) personas = { ...personas, [row.id]: { id: row.id, name: row.name, system: row.system } };
        }
        return planStep(snapshot, step, planContext, personas);
      },
    });
    o.health?.listen?.(this.events);
    this.runs = new RunsService({
      store: this.store,
      workflows: this.workflows,
      queue: this.queue,
      catalogue: o.catalogue,
      configuredProviders: () => o.providers.configured(),
      abortStep: (id) => this.executor.abortStep(id),
      limits: o.config.limits,
    });
    this.approvals = new Approvals({ store: this.store, queue: this.queue });
    this.reruns = new Reruns({
      store: this.store,
      workflows: this.workflows,
      queue: this.queue,
      catalogue: o.catalogue,
      configuredProviders: () => o.providers.configured(),
    });
    this.clock = clock;
  }

  private readonly clock: Clock;

  /** Fails or escalates approvals past their timeout (the sweep does this; tests call it). */
  sweepApprovals(): Promise<{ failed: number; escalated: number }> {
    return expireApprovals({ store: this.store, logger: this.o.logger }, this.clock);
  }

  /** Reclaims orphans, then starts working the queue and sweeping periodically. */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    this.executor.resume();
    // The embedded database belongs to this one process: every running step is an orphan.
    const summary = await recoverOrphans(this.store, this.queue, {
      takeAllRunning: this.o.db.kind === 'embedded',
    });
    if (summary.reclaimed > 0 || summary.requeued > 0)
      this.o.logger.info(summary, 'recovered unfinished runs');
    // Seed the circuit breakers from recent attempts, so a restarted replica does not hammer
    // a provider its peers already know is down. A failure here only costs that head start.
    await this.o.health
      ?.start?.()
      .catch((error: unknown) =>
        this.o.logger.warn({ err: (error as Error).message }, 'could not seed provider health'),
      );
    await this.queue.start(
      (runId, handOff) => this.advance(runId, handOff),
      this.o.config.worker.concurrency,
    );
    const sweepMs = this.o.sweepMs ?? Math.max(1000, Math.floor(this.o.config.worker.leaseMs / 2));
    this.sweepTimer = setInterval(() => {
      recoverOrphans(this.store, this.queue, {
        takeAllRunning: false,
        held: (lease) => this.executor.holds(lease),
      }).then(
        (summary) => {
          if (summary.reclaimed > 0) this.o.logger.info(summary, 'took back steps whose lease had expired');
        },
        (error: unknown) =>
          this.o.logger.warn({ err: (error as Error).message }, 'recovery sweep failed; will try again'),
      );
      this.sweepApprovals().catch((error: unknown) =>
        this.o.logger.warn(
          { err: (error as Error).message },
          'approval timeout sweep failed; will try again',
        ),
      );
    }, sweepMs);
    this.sweepTimer.unref();
  }

  /** Stops taking work; running steps get `graceMs` to finish, then are handed back. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.started = false;
    this.o.health?.stop?.();
    await Promise.all([this.executor.stop(graceMs), this.queue.stop()]);
  }

  private async advance(runId: string, handOff?: RunHandOff): Promise<void> {
    try {
      await this.executor.advance(runId, handOff);
    } catch (error) {
      // The run stays in the database as it was; the next sweep queues it again.
      this.o.logger.error({ runId, err: (error as Error).message }, 'advancing run failed');
    }
  }
}

/** MAX_OUTPUT_TOKENS's default (src/config.ts), for engines built without a config. */
const DEFAULT_MAX_OUTPUT_TOKENS = 4096;

function defaultQueue(db: Database): WorkQueue {
  if (db.kind === 'postgres' && db.url) return new PgBossQueue(db.url);
  return new InProcessQueue();
}
