import { randomBytes } from 'node:crypto';
import { type Clock, nowMs, systemClock } from '../core/clock.js';
import { isTransientDbError } from '../db/transient-errors.js';

/** Why an execution was interrupted: it stops, and the step is handed back or cancelled. */
export type StopReason = 'shutdown' | 'cancelled' | 'lease_lost';

export class Interrupted extends Error {
  constructor(readonly reason: StopReason) {
    super(reason);
  }
}

/**
 * One claim of one step. The token is unique per claim (not per process), so a guarded
 * write `where leaseOwner = token` can tell this execution apart from a later one in the
 * same process — e.g. after the lease lapsed during a database outage and the sweep handed
 * the step to a fresh execution.
 *
 * `expiresAt` is this process's own, conservative view of the lease: it is moved forward
 * only by a write that succeeded, and measured from before that write was sent. The
 * executor stops working on a step before this moment passes, so by the time another
 * process may reclaim it (its clock past the stored expiry) this one has let go.
 */
export class StepLease {
  readonly token: string;
  private expires: number;

  constructor(
    owner: string,
    readonly leaseMs: number,
    claimedAt: number,
  ) {
    this.token = `${owner}~${randomBytes(4).toString('hex')}`;
    this.expires = claimedAt + leaseMs;
  }

  get expiresAt(): number {
    return this.expires;
  }

  /** A renewal written at `sentAt` succeeded. */
  renewed(sentAt: number): void {
    this.expires = Math.max(this.expires, sentAt + this.leaseMs);
  }

  /** How often to renew: three beats per lease, so two can be missed. */
  get heartbeatMs(): number {
    return Math.max(200, Math.floor(this.leaseMs / 3));
  }
}

/** A write the executor gave up on because the database stayed unreachable. */
export class DatabaseUnavailable extends Error {
  override name = 'DatabaseUnavailable';
  constructor(cause: unknown) {
    super('the database could not be reached', { cause });
  }
}

/** How long an answer already in hand is kept while the database is away (see `persist`). */
export const OUTCOME_HOLD_MS = 5 * 60_000;

export interface PersistOptions {
  /**
   * Keep trying past the lease, until this moment. Only for a step's outcome (its answer or
   * its pause): nothing more runs on the step meanwhile, and the write is guarded by the
   * lease token, so it is refused if anyone took the step over — while no one has, the
   * answer is still ours to save and throwing it away would only call the provider again.
   */
  holdUntil?: number;
  /** Aborted with Interrupted('shutdown'): stop waiting (other reasons do not end a hold). */
  signal?: AbortSignal;
  onRetry?: (error: unknown, waitMs: number) => void;
  clock?: Pick<Clock, 'now' | 'sleep'>;
}

/**
 * Runs a database write, retrying it while the database is unreachable: while the lease is
 * still ours, or for an outcome until `holdUntil`. An answer a provider already gave is
 * worth waiting for PostgreSQL to come back. `write` must be idempotent (the executor's
 * writes are guarded by the lease token and by attempt ids).
 */
export async function persist<T>(
  lease: StepLease,
  write: () => Promise<T>,
  o: PersistOptions = {},
): Promise<T> {
  const clock = o.clock ?? systemClock;
  for (let wait = 100; ; wait = Math.min(wait * 2, 500)) {
    try {
      return await write();
    } catch (error) {
      if (error instanceof Interrupted || !isTransientDbError(error)) throw error;
      const until = Math.max(lease.expiresAt, o.holdUntil ?? 0);
      if (nowMs(clock) + wait >= until || shuttingDown(o.signal)) throw new DatabaseUnavailable(error);
      o.onRetry?.(error, wait);
      await clock.sleep(wait);
    }
  }
}

function shuttingDown(signal: AbortSignal | undefined): boolean {
  return (
    signal?.aborted === true && signal.reason instanceof Interrupted && signal.reason.reason === 'shutdown'
  );
}
