import type { RunReads } from '../db/run-reads.js';
import type { RunStepRow } from '../db/run-store.js';
import { type Approvals, readApproval } from '../engine/approvals.js';
import { EngineError } from '../engine/engine-error.js';
import { type RerunEdit, RerunProblems, type Reruns } from '../engine/rerun.js';
import type { RunsService } from '../engine/runs.js';
import type { Logger } from '../logging.js';
import { mayApprove, type UsergroupMembers } from './approvers.js';
import type { ActionInput, ActionReply } from './card-actions.js';
import type { Command } from './command-parser.js';
import type { ControlNotices } from './control-notices.js';
import { mayEditWorkflow, type PermissionPolicy } from './permissions.js';
import type { Renderer } from './renderer.js';
import type { RunViews } from './run-views.js';
import {
  APPROVAL_INPUT,
  DEFAULT_PERSONA_VALUE,
  errorMessage,
  KEEP_VALUE,
  type ModalView,
  outputEditModal,
  parseBlockId,
  parseIdValue,
  parseModelValue,
  parsePersonaValue,
  parseRerunBlock,
  parseStepBlockId,
  RERUN_INPUT,
  rejectModal,
  rerunBlock,
  rerunModal,
  rerunStartedMessage,
  type StepModalMetadata,
  unknownRunMessage,
  usageErrorMessage,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';
import { mrkdwnToPlain, safeMrkdwn } from './views/text.js';
import type { Visibility } from './visibility.js';
import type { ViewSubmission } from './workflow-editor.js';

/**
 * Team control from Slack (docs/control.md): Approve, Edit… and Reject… on a card awaiting
 * approval, "Re-run from here…" on a finished run's cards and `/workflow rerun`, and "Raise
 * this run's cap" on a budget alert. Each handler parses strictly, refuses a stale card
 * (its block_id's version, or the version the modal was opened from), checks who may act,
 * then calls one engine service — whose write is guarded, so two people clicking at once
 * have one effect. Refusals say why and that nothing changed.
 */

type Values = ViewSubmission['view']['state']['values'];

export interface ControlActionsOptions {
  reads: RunReads;
  runs: RunsService;
  approvals: Approvals;
  reruns: Reruns;
  views: RunViews;
  renderer: Renderer;
  policy: PermissionPolicy;
  groups: UsergroupMembers;
  notices: ControlNotices;
  /** Who may see which run: deciding on a run needs seeing it (docs/security.md). */
  visibility: Pick<Visibility, 'seenRun' | 'mayAct'>;
  logger: Logger;
}

/** A modal submission's answer: errors by block id, or done (optionally showing a view next). */
export type ControlSubmit = { errors: Record<string, string> } | { ok: true; confirmation?: ModalView };

const STALE =
  'This card was out of date, so nothing was changed: it now shows the latest. Try again from it.';
const MALFORMED = 'That choice is not one this card offers, so nothing was changed.';

export class ControlActions {
  constructor(private readonly o: ControlActionsOptions) {}

  // ── approval gates ─────────────────────────────────────────────────────────

  approve(input: ActionInput): Promise<ActionReply> {
    return this.onDecision(input, async (step, version) => {
      await this.o.approvals.approve(step, input.userId, version);
      this.o.notices.decided(step, input.userId, 'approved');
      return undefined;
    });
  }

  /** Edit…: the output in a modal, for an approver of a card still current. */
  openEdit(input: ActionInput): Promise<{ view: ModalView } | { refusal: MessagePayload }> {
    return this.openDecision(input, (step, total) => outputEditModal({ ...step, total }));
  }

  /** Reject…: the reason modal. */
  openReject(input: ActionInput): Promise<{ view: ModalView } | { refusal: MessagePayload }> {
    return this.openDecision(input, (step, total) => rejectModal({ ...step, total }));
  }

  async submitEdit(meta: StepModalMetadata, values: Values, userId: string): Promise<ControlSubmit> {
    const text = values.output?.[APPROVAL_INPUT]?.value ?? '';
    return this.submitDecision(meta, userId, 'output', async (step) => {
      await this.o.approvals.editOutput(step, userId, text, meta.version);
      this.o.notices.decided(step, userId, 'edited');
    });
  }

  async submitReject(meta: StepModalMetadata, values: Values, userId: string): Promise<ControlSubmit> {
    const reason = values.reason?.[APPROVAL_INPUT]?.value ?? '';
    return this.submitDecision(meta, userId, 'reason', async (step) => {
      await this.o.approvals.reject(step, userId, reason, meta.version);
      this.o.notices.decided(step, userId, 'rejected', reason.trim());
    });
  }

  // ── re-run from a step ─────────────────────────────────────────────────────

  /** "Re-run from here…": the modal, for someone who may act on the run. */
  async openRerun(input: ActionInput): Promise<{ view: ModalView } | { refusal: MessagePayload }> {
    const block = parseStepBlockId(input.blockId);
    if (!block || parseIdValue(input.value) !== block.stepId) return { refusal: errorMessage(MALFORMED) };
    const step = await this.o.reads.step(block.stepId);
    if (!step) return { refusal: errorMessage('That step no longer exists.') };
    if (step.version !== block.version) return this.refusal(step.runId, STALE);
    const denied = await this.runPermission(step.runId, input);
    if (denied) return { refusal: denied };
    try {
      await this.o.reruns.check(step.runId, step.position);
    } catch (error) {
      if (!EngineError.isInstance(error)) throw error;
      return this.refusal(step.runId, `${safeMrkdwn(error.message)} Nothing was changed.`);
    }
    const loaded = await this.o.views.load(step.runId);
    if (!loaded) return { refusal: errorMessage('That run no longer exists.') };
    const snapshotPersona = loaded.steps[0]?.workflowPersonaName ?? null;
    return {
      view: rerunModal({
        run: { number: loaded.run.number, workflowName: loaded.run.workflowName },
        from: { id: step.id, version: step.version, position: step.position, total: loaded.steps.length },
        steps: loaded.steps
          .filter((s) => s.position >= step.position)
          .map((s, i) => ({
            position: s.position,
            name: s.name,
            prompt: loaded.row.steps[step.position + i]!.prompt,
            provider: s.answeredProvider ?? s.provider,
            model: s.answeredModel ?? s.model,
            personaName: s.personaName ?? null,
          })),
        providers: loaded.menus.providers,
        personas: loaded.menus.personas,
        workflowPersona: snapshotPersona,
      }),
    };
  }

  /** The re-run modal's submit: the edits, then a new run linked to the old one. */
  async submitRerun(
    meta: StepModalMetadata,
    values: Values,
    user: { userId: string; viewId: string },
  ): Promise<ControlSubmit> {
    const first = Object.keys(values)[0] ?? 'rerun-head';
    const step = await this.o.reads.step(meta.stepId);
    if (!step) return { errors: { [first]: 'That step no longer exists; nothing was started.' } };
    if (step.version !== meta.version)
      return {
        errors: { [first]: 'The run changed since this was opened; nothing was started. Open it again.' },
      };
    const denied = await this.runPermission(step.runId, { userId: user.userId });
    if (denied) return { errors: { [first]: plain(denied.text) } };
    const edits = this.rerunEdits(values, step.position);
    if ('errors' in edits) return edits;
    try {
      const { run, from, replayed } = await this.o.reruns.rerun({
        runId: step.runId,
        fromPosition: step.position,
        edits: edits.edits,
        actor: user.userId,
        trigger: 'button',
        // One modal, one run: Slack may deliver a submission twice.
        idempotencyKey: `slack:rerun:${user.viewId}`,
      });
      if (!replayed) this.o.notices.rerunStarted(from, run, user.userId, step.position + 1);
      return { ok: true };
    } catch (error) {
      if (error instanceof RerunProblems) {
        const errors: Record<string, string> = {};
        for (const p of error.problems) {
          const block = rerunBlock(p.position, p.field);
          const key = block in values ? block : first;
          errors[key] = errors[key] ? `${errors[key]}; ${p.message}` : p.message;
        }
        return { errors };
      }
      if (EngineError.isInstance(error))
        return { errors: { [first]: `${error.message} Nothing was started.` } };
      throw error;
    }
  }

  /** `/workflow rerun <run> [from <step>]`: re-run as before (the card's modal changes steps). */
  async rerunCommand(
    command: Extract<Command, { kind: 'rerun' }>,
    ctx: { userId: string; channelId: string; triggerId?: string | undefined },
  ): Promise<MessagePayload> {
    let old: Awaited<ReturnType<RunsService['findRun']>>;
    try {
      old = await this.o.runs.findRun(command.run);
    } catch (error) {
      if (EngineError.isInstance(error) && error.code === 'not_found') return unknownRunMessage(command.run);
      throw error;
    }
    const denied = await this.runPermission(old.id, ctx);
    if (denied) return denied;
    const steps = await this.o.reads.runWithSteps(old.id);
    const list = steps?.steps ?? [];
    let position: number;
    if (command.from === undefined) {
      // The first step that did not complete, or the first step of a completed run.
      const open = list.findIndex((s) => s.status !== 'completed');
      position = Math.max(open, 0);
    } else if (/^\d{1,3}$/.test(command.from)) {
      position = Number(command.from) - 1;
    } else {
      position = list.findIndex((s) => s.name === command.from);
      if (position < 0) {
        return usageErrorMessage(
          'rerun',
          `Run #${old.number} has no step "${command.from}" (steps: ${list.map((s, i) => `${i + 1} ${s.name}`).join(', ')}).`,
        );
      }
    }
    try {
      const { run, from, replayed } = await this.o.reruns.rerun({
        runId: old.id,
        fromPosition: position,
        actor: ctx.userId,
        trigger: 'slash',
        channelId: ctx.channelId,
        idempotencyKey: ctx.triggerId ? `slack:${ctx.triggerId}` : undefined,
      });
      if (!replayed) this.o.notices.rerunStarted(from, run, ctx.userId, position + 1);
      return rerunStartedMessage({
        oldNumber: from.number,
        newNumber: run.number,
        fromStep: position + 1,
        channelId: run.channelId,
      });
    } catch (error) {
      if (!EngineError.isInstance(error)) throw error;
      return errorMessage(`${safeMrkdwn(error.message)} Nothing was started.`);
    }
  }

  // ── budgets ────────────────────────────────────────────────────────────────

  /** "Raise this run's cap" on a budget alert: owners and admins; doubles the cap, then retries the step. */
  async raiseBudget(input: ActionInput): Promise<ActionReply> {
    const block = parseBlockId(input.blockId);
    const stepId = parseIdValue(input.value);
    if (!stepId || block?.scope !== 'alert' || block.id !== stepId) return errorMessage(MALFORMED);
    const step = await this.o.reads.step(stepId);
    if (!step) return errorMessage('That step no longer exists.');
    const access = await this.o.visibility.seenRun(input.userId, step.runId);
    const workflow = await this.o.reads.workflowNameOf(step.runId);
    if (!access || !workflow) return errorMessage('That run no longer exists.');
    const decision = mayEditWorkflow(input.userId, { name: workflow, owners: access.owners }, this.o.policy);
    if (!decision.allowed) {
      return errorMessage(
        `:lock: Only the workflow's owners and Switchboard admins can raise run #${access.number}'s cap. Nothing was changed.`,
      );
    }
    if (step.status !== 'paused' || step.lastErrorKind !== 'over_run_budget') {
      this.o.renderer.schedule(step.runId, { force: true });
      return errorMessage(
        safeMrkdwn(
          `Step *${step.name}* is not paused on this run's cap now, so there is nothing to raise. Nothing was changed.`,
        ),
      );
    }
    try {
      await this.o.runs.raiseRunBudget(step.runId, input.userId);
      await this.o.runs.retryStep(step, input.userId, step.version);
      return undefined;
    } catch (error) {
      if (!EngineError.isInstance(error)) throw error;
      this.o.renderer.schedule(step.runId, { force: true });
      return errorMessage(`${safeMrkdwn(error.message)} Nothing was changed.`);
    }
  }

  // ── shared ─────────────────────────────────────────────────────────────────

  /** Common path of Approve (and of opening Edit…/Reject…): block_id → step + version, stale check, approver check. */
  private async onDecision(
    input: ActionInput,
    act: (step: RunStepRow, version: number) => Promise<ActionReply>,
  ): Promise<ActionReply> {
    const block = parseStepBlockId(input.blockId);
    if (!block || parseIdValue(input.value) !== block.stepId) return errorMessage(MALFORMED);
    const step = await this.o.reads.step(block.stepId);
    if (!step) return errorMessage('That step no longer exists.');
    if (step.version !== block.version || step.status !== 'awaiting_approval')
      return this.refuse(step.runId, STALE);
    const denied = await this.approverCheck(step, input.userId);
    if (denied) return this.refuse(step.runId, denied);
    try {
      return await act(step, block.version);
    } catch (error) {
      if (!EngineError.isInstance(error)) throw error;
      return this.refuse(step.runId, `${safeMrkdwn(error.message)} Nothing was changed.`);
    }
  }

  private async openDecision(
    input: ActionInput,
    build: (step: RunStepRow, total: number) => ModalView,
  ): Promise<{ view: ModalView } | { refusal: MessagePayload }> {
    let view: ModalView | undefined;
    const reply = await this.onDecision(input, async (step) => {
      const summary = await this.o.reads.runSummary(step.runId);
      view = build(step, summary?._count.steps ?? step.position + 1);
      return undefined;
    });
    return view ? { view } : { refusal: reply ?? errorMessage(STALE) };
  }

  private async submitDecision(
    meta: StepModalMetadata,
    userId: string,
    block: 'output' | 'reason',
    act: (step: RunStepRow) => Promise<void>,
  ): Promise<ControlSubmit> {
    const step = await this.o.reads.step(meta.stepId);
    if (!step) return { errors: { [block]: 'That step no longer exists; nothing was changed.' } };
    if (step.version !== meta.version || step.status !== 'awaiting_approval') {
      this.o.renderer.schedule(step.runId, { force: true });
      return {
        errors: {
          [block]:
            'The step changed since this was opened (someone decided or edited it); nothing was changed.',
        },
      };
    }
    const denied = await this.approverCheck(step, userId);
    if (denied) return { errors: { [block]: plain(denied) } };
    try {
      await act(step);
      return { ok: true };
    } catch (error) {
      if (!EngineError.isInstance(error)) throw error;
      return { errors: { [block]: plain(`${error.message} Nothing was changed.`) } };
    }
  }

  /** undefined when `userId` may decide on this step's approval; else why not (mrkdwn). */
  private async approverCheck(step: RunStepRow, userId: string): Promise<string | undefined> {
    const access = await this.o.visibility.seenRun(userId, step.runId);
    if (!access) return 'That run no longer exists.';
    const decision = await mayApprove(
      userId,
      { policy: readApproval(step.approval), escalated: step.approvalEscalatedAt !== null },
      access,
      this.o.policy,
      this.o.groups,
      step.name,
    );
    return decision.allowed ? undefined : decision.message;
  }

  private async runPermission(
    runId: string,
    input: { userId: string; channelId?: string | undefined },
  ): Promise<MessagePayload | undefined> {
    const check = await this.o.visibility.mayAct(input.userId, runId);
    if (check.allowed) return undefined;
    return errorMessage(check.unseen ? 'That run no longer exists.' : check.message);
  }

  /** The modal's inputs → the edits that change something (KEEP and an unchanged prompt are none). */
  private rerunEdits(
    values: Values,
    from: number,
  ): { edits: RerunEdit[] } | { errors: Record<string, string> } {
    const byStep = new Map<number, RerunEdit>();
    const errors: Record<string, string> = {};
    const edit = (position: number) => {
      const existing = byStep.get(position) ?? { position };
      byStep.set(position, existing);
      return existing;
    };
    for (const [blockId, inputs] of Object.entries(values)) {
      const at = parseRerunBlock(blockId);
      const value = inputs[RERUN_INPUT];
      if (!at || !value || at.position < from) continue;
      if (at.field === 'model') {
        const chosen = value.selected_option?.value;
        if (!chosen || chosen === KEEP_VALUE) continue;
        const model = parseModelValue(chosen);
        if (!model) errors[blockId] = 'Pick a model from the list.';
        else edit(at.position).model = model;
      } else if (at.field === 'persona') {
        const chosen = value.selected_option?.value;
        if (!chosen || chosen === KEEP_VALUE) continue;
        const persona = parsePersonaValue(chosen);
        if (!persona) errors[blockId] = 'Pick a persona from the list.';
        else
          edit(at.position).persona = {
            personaId:
              chosen === DEFAULT_PERSONA_VALUE || persona.kind === 'default' ? null : persona.personaId,
          };
      } else {
        edit(at.position).prompt = value.value ?? '';
      }
    }
    if (Object.keys(errors).length > 0) return { errors };
    return { edits: [...byStep.values()] };
  }

  private refuse(runId: string, message: string): MessagePayload {
    this.o.renderer.schedule(runId, { force: true });
    return errorMessage(message);
  }

  private refusal(runId: string, message: string): { refusal: MessagePayload } {
    return { refusal: this.refuse(runId, message) };
  }
}

/** A refusal's mrkdwn as the plain text a modal's error line shows. */
function plain(text: string): string {
  return mrkdwnToPlain(text.replace(/<!subteam\^(S[A-Z0-9]+)>/g, '@$1')).slice(0, 500);
}
