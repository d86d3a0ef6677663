import { BoundedMap } from '../core/bounded-map.js';
import type { PriceList } from '../core/cost.js';
import { toPauseKind } from '../core/error-kinds.js';
import type { EngineEventBus } from '../core/events.js';
import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId } from '../core/provider-spec.js';
import type { ModelRef } from '../core/workflow-definition.js';
import type { Stores } from '../db/stores.js';
import { raisedCap } from '../engine/budget.js';
import { readSnapshot } from '../engine/snapshot.js';
import type { Logger } from '../logging.js';
import type { Publisher } from './publisher.js';
import { parentKey } from './renderer.js';
import { whenParentPosted } from './run-parent.js';
import type { LoadedRun, RunViews } from './run-views.js';
import { alternativesFor, cheaperAlternatives, isSlackTs } from './view-model.js';
import { type Block, context, section } from './views/blocks.js';
import {
  alertBlockId,
  describeError,
  failureAlert,
  LIMITS,
  providerLabel,
  recoveredAlert,
  starterMrkdwn,
  threadLink,
} from './views/index.js';
import type { MessagePayload, RunView, StepView } from './views/model.js';
import { excerpt, mrkdwn, safeMrkdwn } from './views/text.js';

/**
 * The team channel hears about a step that paused after a failure: who, what failed, what
 * it means, a link to the run thread and one-click "Retry with …" buttons. The run thread
 * gets a note too. When the step later completes, the alert is edited to say it recovered
 * and how; when the run is cancelled instead, it says so.
 */

export const alertKey = (stepId: string) => `alert:${stepId}`;

export interface AlertsOptions {
  stores: Pick<Stores, 'reads' | 'runs' | 'workflows'>;
  views: RunViews;
  publisher: Publisher;
  catalogue: ModelCatalogue;
  logger: Logger;
  /** SLACK_ALERT_CHANNEL: used when the workflow names no `notify` channel. */
  alertChannel?: string | undefined;
  /** How long an alert waits for the run's parent message (for its permalink). */
  parentWaitMs?: number | undefined;
  /** Reorders the "Retry with …" choices, e.g. healthiest provider first. */
  rankAlternatives?: ((choices: ModelRef[]) => Promise<ModelRef[]>) | undefined;
  /** Model prices and MAX_OUTPUT_TOKENS: a budget pause offers cheaper models (docs/control.md). */
  prices?: { list: PriceList; maxOutputTokens: number } | undefined;
  /**
   * True when a channel is private (a private channel, a DM, a group DM, or Slack cannot
   * say). Unset: every channel counts as private.
   */
  isPrivate?: ((channelId: string) => Promise<boolean>) | undefined;
}

/** Permalinks of run threads remembered at once (each is asked for again once forgotten). */
export const MAX_PERMALINKS = 2_000;

export class FailureAlerts {
  /** Per step, so a pause and the completion that follows are handled in order. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly permalinks = new BoundedMap<string, string>({ max: MAX_PERMALINKS });

  constructor(private readonly o: AlertsOptions) {}

  attach(events: EngineEventBus): () => void {
    const onStep = (e: { runId: string; stepId: string; to: string }) => {
      if (e.to === 'paused') this.enqueue(e.stepId, () => this.onPaused(e.runId, e.stepId));
      else if (e.to === 'completed')
        this.enqueue(e.stepId, () => this.onFinished(e.runId, e.stepId, 'recovered'));
      else if (e.to === 'cancelled' || e.to === 'skipped' || e.to === 'failed')
        this.enqueue(e.stepId, () => this.onFinished(e.runId, e.stepId, 'closed'));
    };
    events.on('step.changed', onStep);
    return () => events.off('step.changed', onStep);
  }

  /** Resolves once every alert job queued so far has run. */
  async idle(): Promise<void> {
    while (this.chains.size > 0) await Promise.all([...this.chains.values()]);
  }

  isIdle(): boolean {
    return this.chains.size === 0;
  }

  private enqueue(stepId: string, job: () => Promise<void>) {
    const previous = this.chains.get(stepId) ?? Promise.resolve();
    const next = previous
      .then(job)
      .catch((error: unknown) =>
        this.o.logger.error({ stepId, err: (error as Error).message }, 'failure alert could not be sent'),
      )
      .finally(() => {
        if (this.chains.get(stepId) === next) this.chains.delete(stepId);
      });
    this.chains.set(stepId, next);
  }

  private async onPaused(runId: string, stepId: string): Promise<void> {
    const loaded = await this.o.views.load(runId);
    const index = loaded?.row.steps.findIndex((s) => s.id === stepId) ?? -1;
    if (!loaded || index < 0) return;
    const row = loaded.row.steps[index]!;
    const step = loaded.steps[index]!;
    // Already retried (or a pause without a failure): nothing to tell the team.
    if (row.status !== 'paused' || !row.lastErrorKind) return;
    const pause = toPauseKind(row.lastErrorKind);
    // A rejection was a person's decision, said in the thread (control-notices.ts).
    if (pause === 'rejected') return;

    const workflow = await this.o.stores.workflows.facts({ id: loaded.row.workflowId });
    // The channel the workflow's owners chose for its alerts (its `notify`)…
    const chosen = workflow?.notify ?? readSnapshot(loaded.row.snapshot).definition.notify ?? undefined;
    const discreet = await this.discreet(loaded.row.channelId);
    // …and for a run in a private conversation, that one only: the workspace-wide
    // SLACK_ALERT_CHANNEL was chosen by nobody for it.
    const channel = discreet ? chosen : (chosen ?? this.o.alertChannel ?? undefined);
    const threadTs = await this.threadTs(loaded);
    const permalink =
      threadTs && !discreet ? await this.permalink(loaded.row.channelId!, threadTs, runId) : undefined;

    const failed = { provider: step.lastError!.provider as ProviderId, model: step.lastError!.model };
    const budget = pause !== undefined && this.o.prices;
    let alternatives: ModelRef[];
    if (budget) {
      // Cheapest first; a provider in trouble ("degraded", circuit open) after the healthy ones.
      const health = this.o.views.ctx.providerHealth;
      const cheaper = cheaperAlternatives(failed, this.o.catalogue, budget.list, budget.maxOutputTokens);
      alternatives = [
        ...cheaper.filter((r) => !health?.(r.provider)),
        ...cheaper.filter((r) => health?.(r.provider)),
      ];
    } else {
      alternatives = alternativesFor(failed, loaded.plans.get(stepId), this.o.catalogue);
      if (this.o.rankAlternatives) {
        const ranked = alternatives;
        alternatives = await this.o.rankAlternatives(ranked).catch(() => ranked);
      }
    }
    if (channel) {
      const existing = isSlackTs(row.alertTs) && row.alertChannel ? row.alertTs : undefined;
      this.o.publisher.put({
        key: alertKey(stepId),
        channel: existing ? row.alertChannel! : channel,
        ts: existing,
        payload: failureAlert({
          run: loaded.run,
          step,
          permalink,
          alternatives,
          providers: loaded.menus.providers,
          raiseCapTo:
            pause === 'over_run_budget' && loaded.row.budgetUsd !== null
              ? raisedCap(loaded.row.budgetUsd)
              : undefined,
          discreet: discreet && channel !== loaded.row.channelId,
        }),
        priority: 'attention',
        onPosted: async ({ ts, channel: posted }) => {
          await this.o.stores.runs.setAlert(stepId, posted, ts);
        },
      });
    }
    if (loaded.row.channelId && (threadTs || this.o.publisher.has(parentKey(runId)))) {
      // The note of an earlier pause of this step says it was retried: it asks for nothing now.
      const earlier = await this.o.stores.reads.alertOf(stepId);
      if (isSlackTs(earlier?.noteTs))
        this.editNote(loaded.row.channelId, earlier.noteTs, resolvedNote(step, 'retried'));
      this.o.publisher.put({
        key: `note:${stepId}:v${row.version}`,
        channel: loaded.row.channelId,
        threadOf: parentKey(runId),
        // A run posted in an existing thread: its notes go there too, once its parent is.
        threadTs: threadTs ? (loaded.row.inThreadTs ?? threadTs) : undefined,
        payload: pausedNote(loaded.run, step, channel, loaded.menus.providers),
        onPosted: async ({ ts }) => {
          await this.o.stores.runs.setNote(stepId, ts);
        },
        priority: 'attention',
      });
    }
  }

  /** Edits a posted thread note (no longer asking for a Retry). */
  private editNote(channel: string, ts: string, payload: MessagePayload): void {
    this.o.publisher.put({ key: `note-ts:${ts}`, channel, ts, payload });
  }

  /** The step's last pause note, updated as its alert is: recovered, or closed without recovering. */
  private async resolveNote(runId: string, stepId: string, how: 'recovered' | 'closed'): Promise<void> {
    const row = await this.o.stores.reads.alertOf(stepId);
    if (!isSlackTs(row?.noteTs)) return;
    const loaded = await this.o.views.load(runId);
    const step = loaded?.steps.find((s) => s.id === stepId);
    if (!loaded?.row.channelId || !step) return;
    this.editNote(loaded.row.channelId, row.noteTs, resolvedNote(step, how));
  }

  private async onFinished(runId: string, stepId: string, how: 'recovered' | 'closed'): Promise<void> {
    await this.resolveNote(runId, stepId, how);
    const key = alertKey(stepId);
    const row = await this.o.stores.reads.alertOf(stepId);
    const posted = isSlackTs(row?.alertTs) && row?.alertChannel;
    if (!row || (!posted && !this.o.publisher.has(key))) return; // no alert was sent
    const loaded = await this.o.views.load(runId);
    const step = loaded?.steps.find((s) => s.id === stepId);
    if (!loaded || !step) return;
    const threadTs = isSlackTs(loaded.row.threadTs) ? loaded.row.threadTs : undefined;
    const discreet = (await this.discreet(loaded.row.channelId)) && row.alertChannel !== loaded.row.channelId;
    const permalink =
      threadTs && !discreet ? await this.permalink(loaded.row.channelId!, threadTs, runId) : undefined;
    const failure = row.lastErrorKind
      ? {
          kind: row.lastErrorKind,
          provider: row.lastErrorProvider ?? step.provider,
          model: row.lastErrorModel ?? step.model,
        }
      : null;
    const payload =
      how === 'recovered'
        ? recoveredAlert({
            run: loaded.run,
            step,
            permalink,
            failure,
            providers: loaded.menus.providers,
            ...(await this.rescue(runId, stepId)),
          })
        : closedAlert(loaded.run, step, permalink);
    this.o.publisher.put({
      key,
      channel: row.alertChannel ?? '',
      ts: posted ? row.alertTs! : undefined,
      payload,
    });
  }

  /**
   * A scheduled run was failed after its pause timeout. Its alert is edited by the step's
   * move to `failed` (closedAlert says so and why); this adds the notice to the run's
   * thread, or to its channel when it has no thread, so the people there hear it too.
   */
  async pauseTimedOut(event: { runId: string; channelId: string | null; text: string }): Promise<void> {
    const run = await this.o.stores.reads.thread(event.runId);
    const channel = run?.channelId ?? event.channelId;
    if (!channel) return;
    const threadTs = isSlackTs(run?.threadTs) ? run.threadTs : undefined;
    await this.o.publisher.call('chat.postMessage', {
      channel,
      ...(threadTs ? { thread_ts: threadTs } : {}),
      text: event.text,
      blocks: [section('pause-timeout', `:x: ${event.text}`)],
    });
  }

  /** Who rescued the step and what they switched to, from the audit trail. */
  private async rescue(runId: string, stepId: string) {
    const events = await this.o.stores.reads.rescueActions(runId, stepId);
    const last = (action: string) => events.filter((e) => e.action === action).at(-1);
    const model = last('step.model')?.toValue ?? null;
    const persona = last('step.persona');
    const retriedBy = (last('step.retry') ?? last('run.resume'))?.actor ?? null;
    const [provider, ...rest] = model ? model.split('/') : [];
    return {
      recoveredBy: retriedBy,
      switchedTo:
        model || persona
          ? {
              provider: provider ?? null,
              model: rest.join('/') || null,
              personaName: persona?.toValue ?? null,
            }
          : null,
    };
  }

  /** A run in a private conversation: its alert goes only where its owners chose, and says less. */
  private async discreet(channelId: string | null): Promise<boolean> {
    if (!channelId) return false; // started outside Slack: no conversation to keep private
    if (!this.o.isPrivate) return true;
    return this.o.isPrivate(channelId).catch(() => true);
  }

  private async threadTs(loaded: LoadedRun): Promise<string | undefined> {
    if (isSlackTs(loaded.row.threadTs)) return loaded.row.threadTs;
    if (!loaded.row.channelId) return undefined;
    return whenParentPosted(
      { publisher: this.o.publisher, readThread: (runId) => this.o.stores.reads.thread(runId) },
      loaded.row.id,
      this.o.parentWaitMs ?? 15_000,
    );
  }

  private async permalink(channel: string, ts: string, runId: string): Promise<string | undefined> {
    const cached = this.permalinks.get(runId);
    if (cached) return cached;
    try {
      const result = await this.o.publisher.call('chat.getPermalink', { channel, message_ts: ts });
      if (typeof result.permalink === 'string') {
        this.permalinks.set(runId, result.permalink);
        return result.permalink;
      }
    } catch (error) {
      this.o.logger.warn({ runId, err: (error as Error).message }, 'no permalink for the run thread');
    }
    return undefined;
  }
}

const CHANNEL_ID = /^[CG][A-Z0-9]{2,}$/;

/** The note in the run thread when a step pauses after a failure. */
export function pausedNote(
  run: RunView,
  step: StepView,
  alertChannel: string | undefined,
  providers: Parameters<typeof providerLabel>[1] = [],
): MessagePayload {
  const err = step.lastError;
  const label = providerLabel(err?.provider ?? step.provider, providers);
  const headline = describeError(err?.kind ?? 'unknown', label, err?.provider ?? step.provider);
  const where = `Step ${step.position + 1}/${step.total} ${excerpt(step.name, 80)}`;
  const lines = [
    `:warning: *${safeMrkdwn(where)}* paused — ${safeMrkdwn(headline)}.`,
    `${run.startedBy.startsWith('schedule:') ? 'Anyone here can' : starterMrkdwn(run.startedBy)} switch its provider/model or persona on the card, then press *Retry*.`,
  ];
  const alerted = alertChannel
    ? `The team was alerted in ${CHANNEL_ID.test(alertChannel) ? `<#${alertChannel}>` : safeMrkdwn(alertChannel)}.`
    : '';
  const id = (part: string) => alertBlockId(step.id, step.version, part);
  const blocks: Block[] = [section(id('note'), lines.join('\n'))];
  if (alerted) blocks.push(context(id('note-where'), [alerted]));
  return { text: mrkdwn(`${where} paused: ${headline}`, LIMITS.fallbackText), blocks };
}

/**
 * A pause note once the pause is over: the step recovered (and who answered), ended without
 * recovering, or was retried (and paused again: a newer note follows). No call to action left.
 */
export function resolvedNote(step: StepView, how: 'recovered' | 'closed' | 'retried'): MessagePayload {
  const where = `Step ${step.position + 1}/${step.total} ${excerpt(step.name, 80)}`;
  const answered =
    step.answeredProvider && step.answeredModel
      ? ` — answered by \`${safeMrkdwn(`${step.answeredProvider}/${step.answeredModel}`)}\``
      : '';
  const line =
    how === 'recovered'
      ? `:white_check_mark: *${safeMrkdwn(where)}* paused, then recovered${answered}.`
      : how === 'retried'
        ? `:arrows_counterclockwise: *${safeMrkdwn(where)}* paused here and was retried; it paused again below.`
        : `:no_entry_sign: *${safeMrkdwn(where)}* paused and was ${step.status} before it recovered.`;
  const id = (part: string) => alertBlockId(step.id, step.version, part);
  return {
    text: mrkdwn(line.replace(/[*:]/g, ''), LIMITS.fallbackText),
    blocks: [section(id('note'), line)],
  };
}

/**
 * The alert once the step ended without recovering: cancelled with its run, or marked failed
 * (a scheduled run whose pause timed out, with the run's reason). No buttons left to press.
 */
export function closedAlert(
  run: Pick<RunView, 'number' | 'workflowName' | 'reason'>,
  step: StepView,
  permalink: string | undefined,
): MessagePayload {
  const id = (part: string) => alertBlockId(step.id, step.version, part);
  const where = `*${safeMrkdwn(excerpt(run.workflowName, 80))}* run #${run.number}, step ${step.position + 1}/${step.total} *${safeMrkdwn(excerpt(step.name, 80))}*`;
  const head =
    step.status === 'failed'
      ? `:x: ${where} was marked failed before anyone rescued it; the run is over.`
      : `:no_entry_sign: ${where} was ${step.status} before it recovered.`;
  const blocks: Block[] = [section(id('head'), head)];
  const facts = [
    step.status === 'failed' && run.reason ? `Why: ${mrkdwn(excerpt(run.reason, 300), 1000)}` : '',
    threadLink(permalink),
  ];
  if (facts.some(Boolean)) blocks.push(context(id('facts'), facts));
  return {
    text: mrkdwn(
      `${run.workflowName} run #${run.number} step ${step.position + 1} ${step.status}`,
      LIMITS.fallbackText,
    ),
    blocks,
  };
}
