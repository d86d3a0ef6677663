import { type Clock, systemClock } from '../core/clock.js';
import type { Publisher } from './publisher.js';
import { parentKey } from './renderer.js';
import { isSlackTs } from './view-model.js';

/** How long a wait for a run's parent lasts between two reads of the run. */
export const PARENT_READ_EVERY_MS = 1_000;

export interface ParentWait {
  publisher: Pick<Publisher, 'whenPosted'>;
  /** The run's thread as the database has it (RunReads.thread). */
  readThread: (runId: string) => Promise<{ threadTs: string | null } | null>;
  clock?: Pick<Clock, 'now'> | undefined;
  /** True once the caller has stopped: the wait ends at its next read. */
  closed?: (() => boolean) | undefined;
}

/**
 * The ts of a run's parent message once it is posted, within `waitMs`: by this process (its
 * publisher tells at once, even of a parent the renderer has not asked for yet) or by another
 * process sharing the database, whose post is read from the run every PARENT_READ_EVERY_MS.
 * Undefined when neither happened in time. The failure alert's link, a stream in the thread
 * and the link to a re-run all wait for it this way, so on a replica that does not post the
 * run's messages none of them waits out its whole bound.
 */
export async function whenParentPosted(
  o: ParentWait,
  runId: string,
  waitMs: number,
): Promise<string | undefined> {
  const clock = o.clock ?? systemClock;
  const deadline = clock.now().getTime() + waitMs;
  for (;;) {
    const left = deadline - clock.now().getTime();
    const ts = await o.publisher.whenPosted(
      parentKey(runId),
      Math.max(0, Math.min(left, PARENT_READ_EVERY_MS)),
    );
    if (ts) return ts;
    const row = await o.readThread(runId);
    if (row && isSlackTs(row.threadTs)) return row.threadTs;
    if (o.closed?.() || left <= PARENT_READ_EVERY_MS) return undefined;
  }
}
