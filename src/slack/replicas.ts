import { type Clock, nowMs, systemClock } from '../core/clock.js';
import type { SlackCoordination } from '../db/slack-coordination.js';
import type { Logger } from '../logging.js';
import type { PendingJournal, Publisher } from './publisher.js';
import type { Renderer } from './renderer.js';

/**
 * The bot processes sharing one PostgreSQL database, as Slack's publisher sees them
 * (docs/operations.md, "Several processes"). Each process says every HEARTBEAT_MS that it is
 * alive, and records the runs whose messages it has yet to send (the publisher's journal).
 * Every heartbeat also looks for processes not heard of for STALE_AFTER_MS: their pending
 * runs are taken over and redrawn here from the database (their first-post claims count as
 * abandoned), so a killed process strands nothing. The count of live processes sets each
 * one's share of the messages that may owe a chat.update at once.
 *
 * Not used on the embedded database: one process, nothing to share.
 */

export const HEARTBEAT_MS = 5_000;
export const STALE_AFTER_MS = 3 * HEARTBEAT_MS;

export interface ReplicasOptions {
  store: Pick<
    SlackCoordination,
    'heartbeat' | 'leave' | 'recordPending' | 'adoptOrphans' | 'liveReplicas' | 'notifyRuns' | 'listenRuns'
  >;
  /** This process (the engine's lease owner). */
  replica: string;
  publisher: Pick<Publisher, 'shareEditsWith'>;
  renderer: Pick<Renderer, 'adopt' | 'peerChanged' | 'ownersAlive'>;
  logger: Logger;
  clock?: Pick<Clock, 'now' | 'setTimeout'>;
  heartbeatMs?: number;
  staleAfterMs?: number;
}

export class SlackReplicas implements PendingJournal {
  private timer: { cancel(): void } | undefined;
  private stopped = false;
  private beating: Promise<void> | undefined;
  private unlisten: (() => Promise<void>) | undefined;
  /** Runs changed here, told to the others in the next turn of the event loop. */
  private readonly changed = new Set<string>();
  private notifying = false;

  constructor(private readonly o: ReplicasOptions) {}

  private get clock() {
    return this.o.clock ?? systemClock;
  }

  record(pending: string[], sent: string[]): Promise<void> {
    return this.o.store.recordPending(this.o.replica, pending, sent, nowMs(this.clock));
  }

  /** Says this process is alive, listens to the others' changes, and starts the heartbeat. */
  async start(): Promise<void> {
    this.unlisten = await this.o.store
      .listenRuns(
        (from, runIds) => {
          if (from === this.o.replica) return;
          // "!<id>": that process could not draw some of the run's messages (claims of ours).
          for (const id of runIds)
            if (id.startsWith('!')) this.o.renderer.peerChanged(id.slice(1), true);
            else this.o.renderer.peerChanged(id);
        },
        (error) =>
          this.o.logger.warn({ err: (error as Error).message }, 'listening to the other processes failed'),
      )
      .catch((error: unknown) => {
        this.o.logger.warn({ err: (error as Error).message }, 'could not listen to the other processes');
        return undefined;
      });
    await this.beat();
  }

  /**
   * A run changed in this process and was drawn: the others refresh their messages of it,
   * and draw those this one could not (`blocked`: their claims).
   */
  runChanged(runId: string, blocked = false): void {
    if (this.stopped) return;
    this.changed.add(blocked ? `!${runId}` : runId);
    if (this.notifying) return;
    this.notifying = true;
    setImmediate(() => void this.notify());
  }

  private async notify(): Promise<void> {
    while (this.changed.size > 0 && !this.stopped) {
      const runIds = [...this.changed];
      this.changed.clear();
      await this.o.store.notifyRuns(this.o.replica, runIds).catch((error: unknown) => {
        this.o.logger.warn({ err: (error as Error).message }, 'telling the other processes failed');
      });
    }
    this.notifying = false;
  }

  /**
   * One heartbeat: alive, take over the runs of processes gone silent, share the edit budget.
   * Public so tests can beat on their own clock.
   */
  beat(): Promise<void> {
    this.beating ??= this.beatOnce().finally(() => {
      this.beating = undefined;
      this.schedule();
    });
    return this.beating;
  }

  /** Stops the heartbeat; `leave` also hands this process's pending runs to the others at once. */
  async stop(options: { leave: boolean } = { leave: true }): Promise<void> {
    this.stopped = true;
    this.timer?.cancel();
    await this.unlisten?.();
    await this.beating?.catch(() => {});
    if (options.leave) await this.o.store.leave(this.o.replica).catch(() => {});
  }

  private async beatOnce(): Promise<void> {
    if (this.stopped) return;
    const now = nowMs(this.clock);
    const staleBefore = now - (this.o.staleAfterMs ?? STALE_AFTER_MS);
    try {
      await this.o.store.heartbeat(this.o.replica, now);
      const adopted = await this.o.store.adoptOrphans(this.o.replica, now, staleBefore);
      if (adopted.length > 0) {
        this.o.logger.info(
          { runs: adopted.length, from: [...new Set(adopted.map((a) => a.from))] },
          'redrawing the runs of a process that stopped',
        );
        this.o.renderer.adopt(
          adopted.map((a) => a.runId),
          adopted.map((a) => a.from),
        );
      }
      const live = await this.o.store.liveReplicas(staleBefore);
      this.o.publisher.shareEditsWith(Math.max(1, live.length));
      // A process that died between claiming a first post and recording its run (the
      // journal is written a moment later) strands nothing either: runs blocked by its
      // claims are drawn here once it is no longer among the live processes.
      this.o.renderer.ownersAlive([...live, this.o.replica]);
    } catch (error) {
      this.o.logger.warn({ err: (error as Error).message }, 'the Slack heartbeat failed');
    }
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer?.cancel();
    this.timer = this.clock.setTimeout(() => void this.beat(), this.o.heartbeatMs ?? HEARTBEAT_MS);
  }
}
