import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';

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

// Prisma error codes that mean the same query will fail again (constraint, not found,
// bad value…); anything else — connection refused or dropped, pool or transaction
// timeouts (P1xxx, P2024, P2028, P2034), driver errors without a code — may pass later.
const PERMANENT_PRISMA_CODES = /^P20(0\d|1\d|2[0-35-7]|3[0-3])$/;

/** True when a database error is worth retrying (the connection, not the query). */
export function isTransientDbError(error: unknown): boolean {
  if (!error || typeof error !== 'object' || error instanceof Interrupted) return false;
  const { name, code } = error as { name?: unknown; code?: unknown };
  if (name === 'PrismaClientValidationError') return false;
  if (typeof code === 'string' && PERMANENT_PRISMA_CODES.test(code)) return false;
  return true;
}

/** A write the executor gave up on because the database stayed unreachable. */
export class DatabaseUnavailable extends Error {
  override name = 'DatabaseUnavailable';
  constructor(cause: unknown) {
    super('the database could not be reached', { cause });
  }
}

/**
 * Runs a database write, retrying it while the database is unreachable — but only while
 * the lease is still ours: an answer a provider already gave is worth a few seconds of
 * waiting for PostgreSQL to come back, and not worth writing after someone else may hold
 * the step. `write` must be idempotent (the executor's writes are guarded by the lease
 * token and by attempt ids).
 */
export async function persist<T>(
  lease: StepLease,
  write: () => Promise<T>,
  onRetry: (error: unknown, waitMs: number) => void = () => {},
  now: () => number = Date.now,
): Promise<T> {
  for (let wait = 100; ; wait = Math.min(wait * 2, 1000)) {
    try {
      return await write();
    } catch (error) {
      if (!isTransientDbError(error)) throw error;
      if (now() + wait >= lease.expiresAt) throw new DatabaseUnavailable(error);
      onRetry(error, wait);
      await delay(wait);
    }
  }
}
