import { z } from 'zod';
import type { RunReads } from '../db/run-reads.js';
import { EngineError } from '../engine/engine-error.js';
import type { RunsService } from '../engine/runs.js';
import type { Logger } from '../logging.js';
import { mayActOnRun, type PermissionPolicy, runAccess } from './permissions.js';
import type { Renderer } from './renderer.js';
import type { RunViews } from './run-views.js';
import { VersionFloor } from './version-floor.js';
import {
  errorMessage,
  fullOutputModal,
  type ModalView,
  parseBlockId,
  parseIdValue,
  parseModelValue,
  parsePersonaValue,
  parseRetryWithValue,
  parseRunBlockId,
  parseStepBlockId,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';
import { safeMrkdwn } from './views/text.js';

/**
 * What the buttons and menus on cards, parent messages and alerts do. Every handler
 * parses the values with the strict parsers (anything malformed is refused), compares the
 * card's version (in its block_id) with the database (or with a newer version already
 * seen: VersionFloor), checks permission, then calls the
 * runs service — which validates the choice and writes a guarded update with an
 * AuditEvent. Refusals come back as an ephemeral message; the renderer redraws the card.
 */

/** The fields of a block_actions payload we use. */
export const blockActionsSchema = z.object({
  type: z.literal('block_actions'),
  user: z.object({ id: z.string().min(1) }),
  channel: z.object({ id: z.string() }).optional(),
  trigger_id: z.string().optional(),
  response_url: z.string().optional(),
  /** Set when the click came from a view: a modal (the editors) or the App Home tab. */
  view: z.object({ id: z.string(), type: z.string(), private_metadata: z.string().nullish() }).nullish(),
  actions: z
    .array(
      z.object({
        action_id: z.string(),
        block_id: z.string(),
        value: z.string().optional(),
        selected_option: z.object({ value: z.string() }).nullish(),
      }),
    )
    .min(1),
});

export type BlockActionsPayload = z.infer<typeof blockActionsSchema>;

export interface ActionInput {
  userId: string;
  channelId?: string | undefined;
  blockId: string;
  /** The button's value, or the chosen option's value. */
  value: string | undefined;
}

/** What a handler answers: an ephemeral message to the clicker, or nothing (the card updates). */
export type ActionReply = MessagePayload | undefined;

export interface ActionServiceOptions {
  reads: RunReads;
  runs: RunsService;
  views: RunViews;
  renderer: Renderer;
  policy: PermissionPolicy;
  logger: Logger;
}

export const REFUSED = {
  malformed: 'That choice is not one this card offers, so nothing was changed.',
  stale: 'This card was out of date, so nothing was changed: it now shows the latest. Try again from it.',
  gone: 'That step no longer exists.',
};

type StepRow = Awaited<ReturnType<RunsService['step']>>;

export class ActionService {
  private readonly floor = new VersionFloor();

  constructor(private readonly o: ActionServiceOptions) {}

  selectModel(input: ActionInput): Promise<ActionReply> {
    return this.onStep(input, async (step, version) => {
      const choice = parseModelValue(input.value);
      if (!choice) return this.refuse(step.runId, REFUSED.malformed);
      await this.o.runs.setStepModel(step, choice, input.userId, version);
      return undefined;
    });
  }

  selectPersona(input: ActionInput): Promise<ActionReply> {
    return this.onStep(input, async (step, version) => {
      const choice = parsePersonaValue(input.value);
      if (!choice) return this.refuse(step.runId, REFUSED.malformed);
      await this.o.runs.setStepPersona(
        step,
        choice.kind === 'default' ? null : choice.personaId,
        input.userId,
        version,
      );
      return undefined;
    });
  }

  retry(input: ActionInput): Promise<ActionReply> {
    return this.onStep(input, async (step, version) => {
      if (parseIdValue(input.value) !== step.id) return this.refuse(step.runId, REFUSED.malformed);
      await this.o.runs.retryStep(step.id, input.userId, version);
      return undefined;
    });
  }

  /** The modal behind "View full output"; anyone who can see the card may read it. */
  async fullOutput(input: Pick<ActionInput, 'value'>): Promise<ModalView | MessagePayload> {
    const stepId = parseIdValue(input.value);
    const step = stepId ? await this.o.reads.step(stepId) : null;
    if (!step) return errorMessage(stepId ? REFUSED.gone : REFUSED.malformed);
    const run = await this.o.reads.runSummary(step.runId);
    return fullOutputModal({
      step: { ...step, total: run?._count.steps ?? step.position + 1 },
      workflowName: run?.workflowName,
      runNumber: run?.number,
    });
  }

  /** Pause, Resume or Cancel from the run's parent message. */
  async runControl(kind: 'pause' | 'resume' | 'cancel', input: ActionInput): Promise<ActionReply> {
    const block = parseRunBlockId(input.blockId);
    const runId = parseIdValue(input.value);
    if (!block || !runId || block.runId !== runId) return errorMessage(REFUSED.malformed);
    const denied = await this.permission(runId, input);
    if (denied) return denied;
    return this.engineCall(runId, async () => {
      if (kind === 'pause') await this.o.runs.pauseRun(runId, input.userId);
      else if (kind === 'resume') await this.o.runs.resumeRun(runId, input.userId);
      else await this.o.runs.cancelRun(runId, input.userId);
      return undefined;
    });
  }

  /** An alert's "Retry with <provider/model>": switch the paused step, then retry it — one click. */
  async retryWith(input: ActionInput): Promise<ActionReply> {
    const choice = parseRetryWithValue(input.value);
    const block = parseBlockId(input.blockId);
    if (!choice || block?.scope !== 'alert' || block.id !== choice.stepId)
      return errorMessage(REFUSED.malformed);
    const step = await this.findStep(choice.stepId);
    if (!step) return errorMessage(REFUSED.gone);
    const denied = await this.permission(step.runId, input);
    if (denied) return denied;
    if (step.status !== 'paused') {
      this.o.renderer.schedule(step.runId, { force: true });
      return errorMessage(
        safeMrkdwn(
          `Step *${step.name}* is ${step.status} now, so there is nothing to retry. Nothing was changed.`,
        ),
      );
    }
    return this.engineCall(step.runId, async () => {
      const switched = await this.o.runs.setStepModel(
        step,
        { provider: choice.provider, model: choice.model },
        input.userId,
        step.version,
      );
      await this.o.runs.retryStep(switched, input.userId, switched.version);
      return undefined;
    });
  }

  /** Common path of the card's own controls: block_id → step + version, stale check, permission. */
  private async onStep(
    input: ActionInput,
    act: (step: StepRow, version: number) => Promise<ActionReply>,
  ): Promise<ActionReply> {
    const block = parseStepBlockId(input.blockId);
    if (!block) return errorMessage(REFUSED.malformed);
    const known = this.floor.staleRun(block.stepId, block.version);
    if (known) return this.refuse(known, REFUSED.stale);
    const step = await this.findStep(block.stepId);
    if (!step) return errorMessage(REFUSED.gone);
    this.floor.note(step);
    if (step.version !== block.version) return this.refuse(step.runId, REFUSED.stale);
    const denied = await this.permission(step.runId, input);
    if (denied) return denied;
    return this.engineCall(step.runId, () => act(step, block.version));
  }

  private async findStep(stepId: string): Promise<StepRow | undefined> {
    return (await this.o.reads.step(stepId)) ?? undefined;
  }

  private async permission(runId: string, input: ActionInput): Promise<ActionReply> {
    const access = await runAccess(this.o.reads, runId);
    if (!access) return errorMessage(REFUSED.gone);
    const decision = mayActOnRun({ userId: input.userId, channelId: input.channelId }, access, this.o.policy);
    if (decision.allowed) return undefined;
    // The clicker's client may show a choice that was not applied: redraw it.
    this.o.renderer.schedule(runId, { force: true });
    return errorMessage(decision.message);
  }

  /** Runs a service call; a stale or invalid request becomes an ephemeral refusal and a redraw. */
  private async engineCall(runId: string, call: () => Promise<ActionReply>): Promise<ActionReply> {
    try {
      return await call();
    } catch (error) {
      // stale (someone else changed it first), invalid_choice (a forged or withdrawn option), not_found…
      if (!EngineError.isInstance(error)) throw error;
      return this.refuse(runId, `${safeMrkdwn(error.message)} Nothing was changed.`);
    }
  }

  private refuse(runId: string, message: string): ActionReply {
    this.o.renderer.schedule(runId, { force: true });
    return errorMessage(message);
  }
}
