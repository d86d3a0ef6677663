import type { RunStore } from '../db/run-store.js';
import type { WorkQueue } from './queue.js';

/**
 * Nothing is lost when a process dies: a step whose lease expired (its process stopped
 * heartbeating) is handed back to pending, and every run with work left and nobody working
 * on it is queued again. A completed step is never touched: only `running` steps are
 * reclaimed, and the guard includes the lease we saw, so a live heartbeat wins the race.
 * A step whose lease an execution in this process still holds (`held`) is not an orphan,
 * whatever its expiry says: it is saving an answer through a database outage.
 */
export async function recoverOrphans(
  store: RunStore,
  queue: WorkQueue,
  options: { takeAllRunning: boolean; held?: (lease: string | null) => boolean },
): Promise<{ reclaimed: number; requeued: number }> {
  const orphans = await store.orphanedSteps({ takeAllRunning: options.takeAllRunning });
  let reclaimed = 0;
  for (const step of orphans) {
    if (options.held?.(step.leaseOwner)) continue;
    const guard = { leaseOwner: step.leaseOwner, leaseExpiresAt: step.leaseExpiresAt };
    const release = { leaseOwner: null, leaseExpiresAt: null };
    const to = step.run.status === 'cancelled' ? 'cancelled' : 'pending';
    if (
      await store.moveStep(step, to, { actor: 'recovery', from: ['running'], where: guard, data: release })
    ) {
      reclaimed += 1;
    }
  }
  const idle = await store.idleRunIds();
  for (const runId of idle) await queue.enqueue(runId);
  return { reclaimed, requeued: idle.length };
}
