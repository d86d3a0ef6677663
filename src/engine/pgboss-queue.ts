import { PgBoss } from 'pg-boss';
import type { RunHandler, RunHandOff, WorkQueue } from './queue.js';

const QUEUE = 'advance-run';

/**
 * pg-boss on PostgreSQL, so several bot processes share one database safely: a job is
 * fetched by one process with SKIP LOCKED.
 *
 * In-process hand-off: a run enqueued here while this process has a free slot is advanced
 * here at once, without a round trip through pg-boss (a job only says "look at run X", and
 * the database — not the job — is what recovery reads if this process dies). Otherwise the
 * job goes to pg-boss for whichever process has room first.
 *
 * One fetcher per process hands pg-boss jobs to the free slots: as many jobs as slots in one
 * query, right away when a slot comes free, else every `pollingIntervalSeconds`. pg-boss's
 * own `work()` would instead run one polling loop per slot (WORKER_CONCURRENCY queries every
 * interval, even when idle) and make each new job wait for the next poll.
 */
export class PgBossQueue implements WorkQueue {
  private readonly boss: PgBoss;
  private readonly pollMs: number;
  private started = false;
  private handler: RunHandler | undefined;
  private concurrency = 1;
  private readonly active = new Set<Promise<void>>();
  /** Runs being advanced here, and those asked for again meanwhile (served after). */
  private readonly running = new Set<string>();
  private readonly askedAgain = new Set<string>();
  private fetching = false;
  /** Something may be waiting that the fetch in flight could not see: fetch again after it. */
  private refetch = false;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(connectionString: string, options: { pollingIntervalSeconds?: number } = {}) {
    // No instance registry (pg-boss's getInstances(), which nothing here reads): registering
    // samples the event loop's delay on a 20 ms timer and beats a heartbeat row, waking an idle
    // process 50 times a second.
    this.boss = new PgBoss({ connectionString, max: 4, schema: 'pgboss', registerInstance: false });
    this.boss.on('error', () => {
      // Connection blips are retried by pg-boss itself; recovery re-sends lost jobs.
    });
    this.pollMs = (options.pollingIntervalSeconds ?? 0.5) * 1000;
  }

  private async ensureStarted(): Promise<void> {
    if (this.started) return;
    await this.boss.start();
    await this.boss.createQueue(QUEUE, { policy: 'standard', retryLimit: 0, expireInSeconds: 3600 });
    this.started = true;
  }

  async enqueue(runId: string, handOff?: RunHandOff): Promise<void> {
    if (this.running.has(runId)) {
      this.askedAgain.add(runId);
      return;
    }
    if (this.handler && !this.stopping && this.active.size < this.concurrency) {
      this.run(runId, undefined, handOff);
      return;
    }
    await this.ensureStarted();
    // Duplicates are harmless (claims are guarded); the key names the run in pg-boss's tables.
    await this.boss.send(QUEUE, { runId }, { singletonKey: runId });
    this.fill();
  }

  async start(handler: RunHandler, concurrency: number): Promise<void> {
    await this.ensureStarted();
    this.handler = handler;
    this.concurrency = concurrency;
    this.stopping = false;
    this.fill();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.stopping = true;
    clearTimeout(this.timer);
    while (this.active.size > 0 || this.fetching) {
      await Promise.allSettled([...this.active]);
      if (this.fetching) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    this.started = false;
    await this.boss.stop({ graceful: true, close: true, timeout: 30_000 });
  }

  async depth(): Promise<number> {
    if (!this.started) return 0;
    const stats = await this.boss.getQueueStats(QUEUE).catch(() => undefined);
    return (stats ?? []).reduce((sum, s) => sum + s.queuedCount + s.activeCount, 0);
  }

  /** Fetches jobs for the free slots now (or after the fetch in flight). */
  private fill(): void {
    if (!this.handler || this.stopping) return;
    if (this.fetching) {
      this.refetch = true;
      return;
    }
    clearTimeout(this.timer);
    this.fetching = true;
    void this.fetchLoop().finally(() => {
      this.fetching = false;
      if (this.stopping) return;
      // Slots still free: look again later for jobs other processes enqueue.
      if (this.active.size < this.concurrency) {
        this.timer = setTimeout(() => this.fill(), this.pollMs);
        this.timer.unref();
      }
    });
  }

  private async fetchLoop(): Promise<void> {
    do {
      this.refetch = false;
      while (!this.stopping && this.active.size < this.concurrency) {
        let jobs: { id: string; data: { runId: string } }[];
        try {
          jobs = await this.boss.fetch<{ runId: string }>(QUEUE, {
            batchSize: this.concurrency - this.active.size,
          });
        } catch {
          return; // the database is away: the next poll tries again
        }
        for (const job of jobs) this.run(job.data.runId, job.id);
        if (jobs.length === 0) break;
      }
    } while (this.refetch && !this.stopping && this.active.size < this.concurrency);
  }

  /**
   * Advances `runId` in a slot; `jobId` is completed afterwards when it came from pg-boss.
   * `handOff`: the rows this process has just created the run with.
   */
  private run(runId: string, jobId?: string, handOff?: RunHandOff): void {
    if (this.running.has(runId)) {
      // Being advanced here already: look at it once more when that pass ends.
      this.askedAgain.add(runId);
      if (jobId) void this.boss.complete(QUEUE, jobId).catch(() => {});
      return;
    }
    this.running.add(runId);
    const work = this.handler!(runId, handOff)
      .then(
        () => jobId && this.boss.complete(QUEUE, jobId),
        () => jobId && this.boss.fail(QUEUE, jobId),
      )
      .then(
        () => {},
        () => {
          // Not recorded: the job expires in pg-boss; the database, not the job, is the truth.
        },
      )
      .finally(() => {
        this.active.delete(work);
        this.running.delete(runId);
        if (this.askedAgain.delete(runId)) void this.enqueue(runId).catch(() => {});
        this.fill();
      });
    this.active.add(work);
  }
}
