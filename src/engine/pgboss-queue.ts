import { PgBoss } from 'pg-boss';
import type { WorkQueue } from './queue.js';

const QUEUE = 'advance-run';

/**
 * pg-boss on PostgreSQL, so several bot processes share one database safely: a job is
 * fetched by one worker with SKIP LOCKED, and a singleton key per run keeps at most one
 * waiting job per run.
 */
export class PgBossQueue implements WorkQueue {
  private readonly boss: PgBoss;
  private started = false;

  constructor(connectionString: string, options: { pollingIntervalSeconds?: number } = {}) {
    this.boss = new PgBoss({ connectionString, max: 4, schema: 'pgboss' });
    this.boss.on('error', () => {
      // Connection blips are retried by pg-boss itself; recovery re-sends lost jobs.
    });
    this.pollingIntervalSeconds = options.pollingIntervalSeconds ?? 0.5;
  }

  private readonly pollingIntervalSeconds: number;

  private async ensureStarted(): Promise<void> {
    if (this.started) return;
    await this.boss.start();
    await this.boss.createQueue(QUEUE, { policy: 'standard', retryLimit: 0, expireInSeconds: 3600 });
    this.started = true;
  }

  async enqueue(runId: string): Promise<void> {
    await this.ensureStarted();
    // singletonKey: while a job for this run waits, a second send is dropped (null).
    await this.boss.send(QUEUE, { runId }, { singletonKey: runId });
  }

  async start(handler: (runId: string) => Promise<void>, concurrency: number): Promise<void> {
    await this.ensureStarted();
    await this.boss.work<{ runId: string }>(
      QUEUE,
      { batchSize: 1, localConcurrency: concurrency, pollingIntervalSeconds: this.pollingIntervalSeconds },
      async (jobs) => {
        for (const job of jobs) await handler(job.data.runId);
      },
    );
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.boss.stop({ graceful: true, close: true, timeout: 30_000 });
  }

  async depth(): Promise<number> {
    if (!this.started) return 0;
    const stats = await this.boss.getQueueStats(QUEUE).catch(() => undefined);
    return (stats ?? []).reduce((sum, s) => sum + s.queuedCount + s.activeCount, 0);
  }
}
