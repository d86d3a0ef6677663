import type { EngineEventBus } from '../core/events.js';
import type { RunRow, RunStepRow } from '../db/run-store.js';
import type { Stores } from '../db/stores.js';
import { readSnapshot } from '../engine/snapshot.js';
import type { Logger } from '../logging.js';
import type { Publisher } from './publisher.js';
import { parentKey } from './renderer.js';
import { whenParentPosted } from './run-parent.js';
import type { RunViews } from './run-views.js';
import { isSlackTs } from './view-model.js';
import {
  approvalRequestNote,
  decisionNote,
  escalationMessage,
  rerunLinkNote,
  threadLink,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';

/**
 * What team control tells people (docs/control.md): the approvers of a step whose output
 * waits for them (a mention in the run's thread — the output is there, and a mention shows
 * it to nobody outside the channel), each decision, an escalation in the alert channel when
 * nobody decided in time, and the link from a re-run's old thread to the new run.
 */

export interface ControlNoticesOptions {
  stores: Pick<Stores, 'reads' | 'workflows'>;
  views: RunViews;
  publisher: Publisher;
  logger: Logger;
  /** SLACK_ALERT_CHANNEL: where an escalation goes when the workflow names no `notify`. */
  alertChannel?: string | undefined;
  /** How long a note waits for a new run's parent message (its link). */
  parentWaitMs?: number | undefined;
}

export class ControlNotices {
  private readonly jobs = new Set<Promise<void>>();

  constructor(private readonly o: ControlNoticesOptions) {}

  attach(events: EngineEventBus): () => void {
    const onStep = (e: { runId: string; stepId: string; to: string }) => {
      if (e.to === 'awaiting_approval') this.run(() => this.ask(e.runId, e.stepId));
    };
    const onEdit = (e: { runId: string; stepId: string; field: string }) => {
      if (e.field === 'step.approval_escalate') this.run(() => this.escalate(e.runId, e.stepId));
    };
    events.on('step.changed', onStep);
    events.on('step.edited', onEdit);
    return () => {
      events.off('step.changed', onStep);
      events.off('step.edited', onEdit);
    };
  }

  /** A decision made from a card or a modal, said in the run's thread. */
  decided(
    step: RunStepRow,
    actor: string,
    decision: 'approved' | 'rejected' | 'edited',
    reason?: string,
  ): void {
    this.run(async () => {
      const loaded = await this.o.views.load(step.runId);
      const view = loaded?.steps.find((s) => s.id === step.id);
      if (!loaded || !view) return;
      this.inThread(
        loaded.row,
        `decided:${step.id}:v${view.version}:${decision}`,
        decisionNote(view, actor, decision, reason),
      );
    });
  }

  /** The old run's thread links to its re-run once the new run's message is posted. */
  rerunStarted(old: RunRow, run: RunRow, actor: string, fromStep: number): void {
    this.run(async () => {
      if (!old.channelId || !isSlackTs(old.threadTs)) return;
      const posted = await this.newThread(run.id);
      let permalink: string | undefined;
      if (posted) {
        const result = await this.o.publisher
          .call('chat.getPermalink', { channel: posted.channel, message_ts: posted.ts })
          .catch(() => undefined);
        permalink = typeof result?.permalink === 'string' ? result.permalink : undefined;
      }
      const note = rerunLinkNote({
        oldRun: { id: old.id, version: old.version },
        newRun: { number: run.number },
        fromStep,
        actor,
        permalink,
      });
      await this.o.publisher.call('chat.postMessage', {
        channel: old.channelId,
        thread_ts: old.threadTs,
        text: note.text,
        blocks: note.blocks,
      });
    });
  }

  async idle(): Promise<void> {
    while (this.jobs.size > 0) await Promise.allSettled([...this.jobs]);
  }

  isIdle(): boolean {
    return this.jobs.size === 0;
  }

  private run(job: () => Promise<void>): void {
    const done = job().catch((error: unknown) =>
      this.o.logger.warn({ err: (error as Error).message }, 'a team-control notice could not be sent'),
    );
    this.jobs.add(done);
    void done.finally(() => this.jobs.delete(done));
  }

  private async ask(runId: string, stepId: string): Promise<void> {
    const loaded = await this.o.views.load(runId);
    const step = loaded?.steps.find((s) => s.id === stepId);
    if (!loaded || !step || step.status !== 'awaiting_approval') return;
    this.inThread(loaded.row, `ask:${stepId}:v${step.version}`, approvalRequestNote(loaded.run, step));
  }

  private async escalate(runId: string, stepId: string): Promise<void> {
    const loaded = await this.o.views.load(runId);
    const step = loaded?.steps.find((s) => s.id === stepId);
    if (!loaded || !step || step.status !== 'awaiting_approval') return;
    const workflow = await this.o.stores.workflows.facts({ id: loaded.row.workflowId });
    const definition = readSnapshot(loaded.row.snapshot).definition;
    const owners = [...new Set([...(workflow?.owners ?? []), ...definition.owners])];
    const channel = workflow?.notify ?? definition.notify ?? this.o.alertChannel;
    let permalink: string | undefined;
    if (loaded.row.channelId && isSlackTs(loaded.row.threadTs)) {
      const result = await this.o.publisher
        .call('chat.getPermalink', { channel: loaded.row.channelId, message_ts: loaded.row.threadTs })
        .catch(() => undefined);
      permalink = typeof result?.permalink === 'string' ? result.permalink : undefined;
    }
    // Never the output: it stays in the run's channel; the alert links there.
    const message = escalationMessage({ run: loaded.run, step, owners, link: threadLink(permalink) });
    if (channel) {
      await this.o.publisher.call('chat.postMessage', {
        channel,
        text: message.text,
        blocks: message.blocks,
      });
    }
    this.inThread(
      loaded.row,
      `escalated:${stepId}`,
      escalationMessage({ run: loaded.run, step, owners, link: '' }),
    );
  }

  private inThread(
    run: Pick<RunRow, 'id' | 'channelId' | 'threadTs'>,
    key: string,
    payload: MessagePayload,
  ): void {
    const threadTs = isSlackTs(run.threadTs) ? run.threadTs : undefined;
    if (!run.channelId || (!threadTs && !this.o.publisher.has(parentKey(run.id)))) return;
    this.o.publisher.put({ key, channel: run.channelId, threadOf: parentKey(run.id), threadTs, payload });
  }

  /** Where the new run's parent message went, once posted (bounded wait). */
  private async newThread(runId: string): Promise<{ channel: string; ts: string } | undefined> {
    const row = await this.o.stores.reads.thread(runId);
    if (!row?.channelId) return undefined;
    const ts = isSlackTs(row.threadTs)
      ? row.threadTs
      : await whenParentPosted(
          { publisher: this.o.publisher, readThread: (id) => this.o.stores.reads.thread(id) },
          runId,
          this.o.parentWaitMs ?? 15_000,
        );
    return ts ? { channel: row.channelId, ts } : undefined;
  }
}
