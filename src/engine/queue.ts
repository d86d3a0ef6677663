import type { CreatedRun } from '../db/run-store.js';

/**
 * The rows a run was just created with, handed to its first pass when that pass runs in the
 * process that created it, so it need not read them back. A queue that sends the request
 * elsewhere (pg-boss, another process) drops it: whoever takes the run reads the database.
 */
export type RunHandOff = CreatedRun;

/** Advances one run; `handOff` when this process has just created it. */
export type RunHandler = (runId: string, handOff?: RunHandOff) => Promise<void>;

/**
 * How "advance this run" requests reach a worker. The database is the truth: a job only
 * says "look at run X"; losing one is harmless because recovery sweeps re-send them, and
 * a duplicate is harmless because every step claim is a guarded write.
 */
export interface WorkQueue {
  enqueue(runId: string, handOff?: RunHandOff): Promise<void>;
  /** Starts delivering jobs to `handler`, at most `concurrency` at once. */
  start(handler: RunHandler, concurrency: number): Promise<void>;
  /** Stops taking new jobs; resolves once in-flight handlers have returned. */
  stop(): Promise<void>;
  /** Jobs waiting plus running (for metrics). */
  depth(): Promise<number>;
}

/**
 * In-process queue for the embedded database (one process owns the data folder, so there
 * is nobody to share work with). A run already waiting is not queued twice; a request for a
 * run that is being advanced right now is remembered and served once that pass ends.
 */
export class InProcessQueue implements WorkQueue {
  private readonly waiting: string[] = [];
  private readonly waitingSet = new Set<string>();
  private readonly active = new Set<string>();
  private readonly again = new Set<string>();
  /** Rows handed over with a waiting run, until its pass starts. */
  private readonly handOffs = new Map<string, RunHandOff>();
  private handler: RunHandler | undefined;
  private concurrency = 1;
  private stopped = false;
  private idle: (() => void) | undefined;

  async enqueue(runId: string, handOff?: RunHandOff): Promise<void> {
    if (this.stopped) return;
    if (this.active.has(runId)) {
      this.again.add(runId);
      return;
    }
    if (this.waitingSet.has(runId)) return;
    this.waitingSet.add(runId);
    this.waiting.push(runId);
    if (handOff) this.handOffs.set(runId, handOff);
    this.pump();
  }

  async start(handler: RunHandler, concurrency: number): Promise<void> {
    this.handler = handler;
    this.concurrency = concurrency;
    this.stopped = false;
    this.pump();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.waiting.length = 0;
    this.waitingSet.clear();
    this.handOffs.clear();
    if (this.active.size === 0) return;
    await new Promise<void>((resolve) => {
      this.idle = resolve;
    });
  }

  async depth(): Promise<number> {
    return this.waiting.length + this.active.size;
  }

  private pump(): void {
    while (this.handler && !this.stopped && this.active.size < this.concurrency && this.waiting.length > 0) {
      const runId = this.waiting.shift() as string;
      this.waitingSet.delete(runId);
      this.active.add(runId);
      const handOff = this.handOffs.get(runId);
      this.handOffs.delete(runId);
      void this.handler(runId, handOff)
        .catch(() => {
          // The handler logs its own failures; recovery re-sends the run later.
        })
        .finally(() => {
          this.active.delete(runId);
          if (this.again.delete(runId)) void this.enqueue(runId);
          if (this.stopped && this.active.size === 0) this.idle?.();
          this.pump();
        });
    }
  }
}
