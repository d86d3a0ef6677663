import { z } from 'zod';
import { RateWindow } from '../core/bounded-map.js';
import type { Clock } from '../core/clock.js';
import type { RunReads } from '../db/run-reads.js';
import { EngineError } from '../engine/engine-error.js';
import type { RunsService } from '../engine/runs.js';
import type { Logger } from '../logging.js';
import { cardKey, parentKey, type Renderer } from './renderer.js';
import type { RunViews } from './run-views.js';
import { VersionFloor } from './version-floor.js';
import {
  ACTIONS,
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
  stepBlockId,
  stepCard,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';
import { safeMrkdwn } from './views/text.js';
import type { Visibility } from './visibility.js';

/**
 * What the buttons and menus on cards, parent messages and alerts do. Every handler
 * parses the values with the strict parsers (anything malformed is refused), compares the
 * card's version (in its block_id) with the database (or with a newer version already
 * seen: VersionFloor), checks that the clicker may see the run and act on it
 * (visibility.ts), then calls the runs service — which validates the choice and writes a
 * guarded update with an AuditEvent. Refusals come back as an ephemeral message; for
 * someone who may act, the card clicked is redrawn (only that card, rate-limited per person).
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
  /** What the clicker's client shows selected in the message's menus, by block and action id. */
  state: z
    .object({
      values: z.record(
        z.string(),
        z.record(z.string(), z.object({ selected_option: z.object({ value: z.string() }).nullish() })),
      ),
    })
    .nullish(),
  /** The message clicked, as Slack showed it (its blocks say what the card offered). */
  message: z.object({ blocks: z.array(z.unknown()).optional() }).nullish(),
});

export type BlockActionsPayload = z.infer<typeof blockActionsSchema>;

export interface ActionInput {
  userId: string;
  channelId?: string | undefined;
  blockId: string;
  /** The button's value, or the chosen option's value. */
  value: string | undefined;
  /** The menus of the clicked block as the clicker sees them now (state.values): action id → value. */
  selected?: Record<string, string> | undefined;
  /** The same menus as the card was drawn (their initial options in the message): action id → value. */
  shown?: Record<string, string> | undefined;
}

/** How often a Retry looks again at a step another click changed in the same instant. */
const RETRY_PASSES = 3;

/** The selected option of each menu in block `blockId`, from a block_actions payload. */
export function menuSelections(
  payload: BlockActionsPayload,
  blockId: string,
): Record<string, string> | undefined {
  const block = payload.state?.values[blockId];
  if (!block) return undefined;
  const out: Record<string, string> = {};
  for (const [actionId, state] of Object.entries(block)) {
    if (state.selected_option) out[actionId] = state.selected_option.value;
  }
  return out;
}

/** The initial option of each menu in block `blockId` of message blocks (what a card was drawn with). */
export function drawnSelections(
  blocks: unknown[] | undefined,
  blockId: string,
): Record<string, string> | undefined {
  const block = blocks?.find((b) => (b as { block_id?: unknown })?.block_id === blockId) as
    | { elements?: { action_id?: string; initial_option?: { value?: string } }[] }
    | undefined;
  if (!block?.elements) return undefined;
  const out: Record<string, string> = {};
  for (const element of block.elements) {
    if (element.action_id && typeof element.initial_option?.value === 'string')
      out[element.action_id] = element.initial_option.value;
  }
  return out;
}

/** What a handler answers: an ephemeral message to the clicker, or nothing (the card updates). */
export type ActionReply = MessagePayload | undefined;

export interface ActionServiceOptions {
  reads: RunReads;
  runs: RunsService;
  views: RunViews;
  renderer: Pick<Renderer, 'redraw'>;
  visibility: Visibility;
  logger: Logger;
  /** Forced card redraws one person's refused clicks may cause per minute (0: none). */
  forcedRedrawsPerMinute?: number | undefined;
  clock?: Pick<Clock, 'now'> | undefined;
}

export const REFUSED = {
  malformed: 'That choice is not one this card offers, so nothing was changed.',
  stale: 'This card was out of date, so nothing was changed: it now shows the latest. Try again from it.',
  staleAlert:
    'This button is from an older state of the step (it changed since), so nothing was changed. Use the card in the run thread.',
  /** The same words whether the step does not exist or its run is in a channel the clicker is not in. */
  gone: 'That step no longer exists, or its run is in a channel you are not in. Nothing was changed.',
};

type StepRow = Awaited<ReturnType<RunsService['step']>>;

/** Which message a refusal redraws: the card clicked, or the run's parent message. */
type Redraw = { runId: string; key: string } | undefined;

export class ActionService {
  private readonly floor = new VersionFloor();
  private readonly redraws: RateWindow;

  constructor(private readonly o: ActionServiceOptions) {
    this.redraws = new RateWindow({
      limit: o.forcedRedrawsPerMinute ?? 6,
      windowMs: 60_000,
      clock: o.clock,
    });
  }

  selectModel(input: ActionInput): Promise<ActionReply> {
    return this.onStep(input, async (step, version, card) => {
      const choice = parseModelValue(input.value);
      if (!choice) return this.refuse(input, card, REFUSED.malformed);
      await this.o.runs.setStepModel(step, choice, input.userId, version);
      return undefined;
    });
  }

  selectPersona(input: ActionInput): Promise<ActionReply> {
    return this.onStep(input, async (step, version, card) => {
      const choice = parsePersonaValue(input.value);
      if (!choice) return this.refuse(input, card, REFUSED.malformed);
      await this.o.runs.setStepPersona(
        step,
        choice.kind === 'default' ? null : choice.personaId,
        input.userId,
        version,
      );
      return undefined;
    });
  }

  /**
   * Retry from a paused step's card, with what the clicker sees selected in its menus
   * (Slack sends them with the click): a choice made a moment before, whose redraw had not
   * arrived yet, is applied with the retry instead of refused as stale. The card is refused
   * only when the step really changed under it: a menu now holds a value that is neither
   * what the card was drawn with nor what the clicker sees (someone else's edit), or more
   * changed than those menus (a retry and a newer pause).
   */
  async retry(input: ActionInput): Promise<ActionReply> {
    const block = parseStepBlockId(input.blockId);
    if (!block) return errorMessage(REFUSED.malformed);
    if (parseIdValue(input.value) !== block.stepId) return errorMessage(REFUSED.malformed);
    const step = await this.findStep(block.stepId);
    if (!step) return errorMessage(REFUSED.gone);
    this.floor.note(step);
    const denied = await this.permission(step.runId, input);
    if (denied) return denied;
    const card = { runId: step.runId, key: cardKey(step.id) };
    return this.engineCall(input, card, async () => {
      // Each write is guarded by the step's version. A write that lost to another click in
      // the same instant (the menu choice this Retry carries too, sent a moment before on
      // another connection) is looked at again against the step as it is now: applied if
      // the step still shows what the clicker sees, refused if it changed for real.
      let current = step;
      for (let pass = 1; ; pass++) {
        const changes = await this.retryChanges(current, block.version, input);
        if (!changes) return this.refuse(input, card, REFUSED.stale);
        try {
          if (changes.model)
            current = await this.o.runs.setStepModel(current, changes.model, input.userId, current.version);
          if (changes.persona)
            current = await this.o.runs.setStepPersona(
              current,
              changes.persona.kind === 'default' ? null : changes.persona.personaId,
              input.userId,
              current.version,
            );
          await this.o.runs.retryStep(current.id, input.userId, current.version);
          return undefined;
        } catch (error) {
          if (!(error instanceof EngineError) || error.code !== 'stale' || pass >= RETRY_PASSES) throw error;
          const now = await this.findStep(step.id);
          if (!now) return errorMessage(REFUSED.gone);
          current = now;
        }
      }
    });
  }

  /**
   * What a Retry must change first so the step runs with what the clicker sees (empty: as it
   * is), or undefined when the card is out of date for real.
   */
  private async retryChanges(step: StepRow, drawnVersion: number, input: ActionInput) {
    const seen = input.selected ?? {};
    const shown = input.shown;
    const menus = [ACTIONS.selectModel, ACTIONS.selectPersona];
    // Without the card as drawn there is nothing to compare: only the version can tell.
    if (!shown && step.version !== drawnVersion) return undefined;
    if (step.status !== 'paused') return step.version === drawnVersion ? {} : undefined;
    const loaded = await this.o.views.load(step.runId);
    const view = loaded?.steps.find((s) => s.id === step.id);
    if (!loaded || !view) return undefined;
    const now =
      drawnSelections(stepCard(view, loaded.menus).blocks, stepBlockId(step.id, view.version, 'menus')) ?? {};
    let edits = 0;
    for (const menu of menus) {
      const drawn = shown?.[menu] ?? now[menu];
      const wanted = seen[menu] ?? drawn;
      if (now[menu] === drawn) continue;
      // Changed since the card was drawn: fine if to what the clicker sees (their own choice).
      if (now[menu] !== wanted) return undefined;
      edits += 1;
    }
    // Each edit moved the version on by one; anything more (a retry and a newer pause, an
    // edit and its undoing) is a change the clicker has not seen.
    if (step.version - drawnVersion > edits) return undefined;
    const changes: {
      model?: { provider: string; model: string };
      persona?: NonNullable<ReturnType<typeof parsePersonaValue>>;
    } = {};
    const model = seen[ACTIONS.selectModel];
    if (model !== undefined && model !== now[ACTIONS.selectModel]) {
      const choice = parseModelValue(model);
      if (!choice) throw new EngineError('invalid_choice', 'That choice is not one this card offers.');
      changes.model = choice;
    }
    const persona = seen[ACTIONS.selectPersona];
    if (persona !== undefined && persona !== now[ACTIONS.selectPersona]) {
      const choice = parsePersonaValue(persona);
      if (!choice) throw new EngineError('invalid_choice', 'That choice is not one this card offers.');
      changes.persona = choice;
    }
    return changes;
  }

  /**
   * The modal behind "View full output", for someone who may see the step's run. The step id
   * comes from the button's value, which anyone can forge: it is looked up, and its run's
   * visibility checked, here.
   */
  async fullOutput(input: Pick<ActionInput, 'userId' | 'value'>): Promise<ModalView | MessagePayload> {
    const stepId = parseIdValue(input.value);
    if (!stepId) return errorMessage(REFUSED.malformed);
    const step = await this.o.reads.step(stepId);
    if (!step || !(await this.o.visibility.seenRun(input.userId, step.runId)))
      return errorMessage(REFUSED.gone);
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
    return this.engineCall(input, { runId, key: parentKey(runId) }, async () => {
      if (kind === 'pause') await this.o.runs.pauseRun(runId, input.userId);
      else if (kind === 'resume') await this.o.runs.resumeRun(runId, input.userId);
      else await this.o.runs.cancelRun(runId, input.userId);
      return undefined;
    });
  }

  /**
   * An alert's (or Home's) "Retry with <provider/model>": switch the paused step, then retry
   * it — one click. Only for the pause the button was drawn for: its block carries the step's
   * version then, and a step changed since (retried and paused again, switched from its card)
   * refuses it. Alerts have no choice to reset, so nothing is redrawn.
   */
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
      return errorMessage(
        safeMrkdwn(
          `Step *${step.name}* is ${step.status} now, so there is nothing to retry. Nothing was changed.`,
        ),
      );
    }
    if (step.version !== block.version) return errorMessage(REFUSED.staleAlert);
    return this.engineCall(input, undefined, async () => {
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

  /** Common path of the card's own controls: block_id → step + version, permission, stale check. */
  private async onStep(
    input: ActionInput,
    act: (step: StepRow, version: number, card: Redraw) => Promise<ActionReply>,
  ): Promise<ActionReply> {
    const block = parseStepBlockId(input.blockId);
    if (!block) return errorMessage(REFUSED.malformed);
    // Known to be out of date without reading anything: this process has seen (and so drawn,
    // or is drawing) a newer version of the card, whose new block_id resets the clicker's
    // menu. Nothing to redraw, nothing to check: the click changes nothing either way.
    if (this.floor.staleRun(block.stepId, block.version)) return errorMessage(REFUSED.stale);
    const step = await this.findStep(block.stepId);
    if (!step) return errorMessage(REFUSED.gone);
    this.floor.note(step);
    const denied = await this.permission(step.runId, input);
    if (denied) return denied;
    const card = { runId: step.runId, key: cardKey(step.id) };
    if (step.version !== block.version) return this.refuse(input, card, REFUSED.stale);
    return this.engineCall(input, card, () => act(step, block.version, card));
  }

  private async findStep(stepId: string): Promise<StepRow | undefined> {
    return (await this.o.reads.step(stepId)) ?? undefined;
  }

  /**
   * Undefined when the clicker may act on the run; else the refusal. Someone who may not see
   * the run is told nothing about it; someone who sees it but may not act is told who can.
   * Neither gets a redraw: their click changed nothing, and costs Slack nothing either.
   */
  private async permission(runId: string, input: ActionInput): Promise<ActionReply> {
    const check = await this.o.visibility.mayAct(input.userId, runId);
    if (check.allowed) return undefined;
    return errorMessage(check.unseen ? REFUSED.gone : check.message);
  }

  /** Runs a service call; a stale or invalid request becomes an ephemeral refusal and a redraw. */
  private async engineCall(
    input: ActionInput,
    redraw: Redraw,
    call: () => Promise<ActionReply>,
  ): Promise<ActionReply> {
    try {
      return await call();
    } catch (error) {
      // stale (someone else changed it first), invalid_choice (a forged or withdrawn option), not_found…
      if (!EngineError.isInstance(error)) throw error;
      return this.refuse(input, redraw, `${safeMrkdwn(error.message)} Nothing was changed.`);
    }
  }

  /**
   * A refusal to someone who may act: the card they clicked is redrawn (their client may show
   * a choice that was not applied) — that card only, and at most FORCED_REDRAWS_PER_USER_PER_MINUTE
   * times a minute per person, so nobody's clicks can spend Slack's edits for the workspace.
   */
  private refuse(input: ActionInput, redraw: Redraw, message: string): ActionReply {
    if (redraw && this.redraws.take(input.userId)) this.o.renderer.redraw(redraw.runId, redraw.key);
    return errorMessage(message);
  }
}
