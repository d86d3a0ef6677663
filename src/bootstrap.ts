import type { Config } from './config.js';
import { secretValues } from './config.js';
import { type Clock, systemClock } from './core/clock.js';
import type { PriceList } from './core/cost.js';
import { EngineEventBus } from './core/events.js';
import type { HealthGate, ModelCatalogue, Providers } from './core/ports.js';
import { type Database, openDatabase } from './db/database.js';
import { migrate } from './db/migrate.js';
import { openStores, type Stores } from './db/stores.js';
import type { SyncSummary } from './db/workflow-store.js';
import { Engine } from './engine/engine.js';
import type { WorkQueue } from './engine/queue.js';
import { HealthMonitor } from './health/monitor.js';
import { createLogger, type Logger } from './logging.js';
import { buildCatalogue } from './providers/catalogue.js';
import { redactSecrets } from './providers/error-mapping.js';
import { buildPriceList } from './providers/prices.js';
import { createProviders } from './providers/registry.js';
import { loadWorkflowDirOrThrow } from './workflows/loader.js';

/**
 * The core services every entry point needs (bot, CLI, benchmarks), joined in one place:
 * database (migrated), catalogue, providers, workflows synced from files, engine.
 */
export interface Core {
  config: Config;
  logger: Logger;
  db: Database;
  /** The data layer (src/db): every query goes through these. */
  stores: Stores;
  catalogue: ModelCatalogue;
  providers: Providers;
  /** Model prices: built-in, overridden by PRICES_FILE and MODEL_PRICES. */
  prices: PriceList;
  engine: Engine;
  /** Provider health and circuit breakers (undefined when CoreOptions.health replaced it). */
  health: HealthMonitor | undefined;
  /** Re-reads the workflow files into the database. */
  syncWorkflowFiles(): Promise<SyncSummary>;
  close(): Promise<void>;
}

export interface CoreOptions {
  logger?: Logger;
  clock?: Clock;
  queue?: WorkQueue;
  /** Replaces the circuit breakers (tests); `false` runs without any. */
  health?: HealthGate | false;
  /** Replace the real providers (tests, benchmarks). */
  providers?: Providers;
  db?: Database;
}

export function loggerFor(config: Config): Logger {
  return createLogger({
    level: config.logLevel,
    pretty: config.env === 'development' && process.stdout.isTTY,
    secrets: secretValues(config),
  });
}

export async function createCore(config: Config, options: CoreOptions = {}): Promise<Core> {
  const logger = options.logger ?? loggerFor(config);
  const db =
    options.db ?? (await openDatabase({ url: config.database.url, dataDir: config.database.dataDir }));
  try {
    const applied = await migrate(db);
    if (applied.length > 0) logger.info({ applied }, 'database migrated');
    const catalogue = buildCatalogue(config);
    const prices = buildPriceList(config.prices);
    const providers = options.providers ?? createProviders(config);
    const clock = options.clock ?? systemClock;
    const stores = openStores(db, new EngineEventBus(), clock);
    const syncWorkflowFiles = async () => {
      const loaded = await loadWorkflowDirOrThrow(config.workflowsDir, catalogue);
      return stores.workflows.sync({
        workflows: loaded.workflows,
        personas: loaded.personas,
        sourceDir: config.workflowsDir,
        sources: loaded.sources,
      });
    };
    const summary = await syncWorkflowFiles();
    logger.info(
      {
        created: summary.created,
        updated: summary.updated,
        disabled: summary.disabled,
        unchanged: summary.unchanged.length,
        kept: summary.kept,
      },
      'workflows synced',
    );
    const health =
      options.health === undefined
        ? new HealthMonitor({ calls: stores.runs, settings: config.breaker, clock, logger })
        : options.health || undefined;
    const secrets = secretValues(config);
    const engine = new Engine({
      db,
      stores,
      config,
      providers,
      catalogue,
      prices,
      logger,
      clock,
      queue: options.queue,
      health,
      redact: (text) => redactSecrets(text, secrets),
    });
    return {
      config,
      logger,
      db,
      stores,
      catalogue,
      providers,
      prices,
      engine,
      health: health instanceof HealthMonitor ? health : undefined,
      syncWorkflowFiles,
      async close() {
        await engine.stop(0);
        await db.close();
      },
    };
  } catch (error) {
    await db.close().catch(() => {});
    throw error;
  }
}
