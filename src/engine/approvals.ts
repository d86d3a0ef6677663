import type { Clock } from '../core/clock.js';
import type { ApprovalPolicy } from '../core/workflow-definition.js';
import type { RunStepRow, RunStore } from '../db/run-store.js';
import type { Logger } from '../logging.js';
import { EngineError, stale } from './engine-error.js';
import type { WorkQueue } from './queue.js';

/**
 * Approval gates (docs/control.md, "Approval gates"). A gated step's answer waits in
 * `awaiting_approval`, and its run with it, until a person approves it (the run goes on),
 * edits it (the edit becomes the step's output, with an audit row) or rejects it (the step
 * pauses with the reason and its menus, so the team can switch model or persona and retry).
 * Each decision is one guarded write through the store: a stale card, a second approver
 * clicking at the same moment or a replayed request changes nothing. Who may decide is the
 * caller's check (it needs Slack's user groups): src/slack/approvers.ts.
 */

/** The longest reason a rejection keeps (it is shown on the card). */
export const MAX_REJECT_REASON = 500;
/** The longest output an edit may store. */
export const MAX_EDITED_OUTPUT = 100_000;
const AUDIT_VALUE_MAX = 2000;

/** A step's stored gate (RunStep.approval), or null when it has none or it is malformed. */
export function readApproval(value: unknown): ApprovalPolicy | null {
  if (!value || typeof value !== 'object') return null;
  const v = value as Partial<ApprovalPolicy>;
  return {
    users: Array.isArray(v.users) ? v.users.filter((u): u is string => typeof u === 'string') : [],
    usergroup: typeof v.usergroup === 'string' ? v.usergroup : undefined,
    starter: v.starter === true,
    owners: v.owners === true,
    timeoutMinutes: typeof v.timeoutMinutes === 'number' ? v.timeoutMinutes : undefined,
    onTimeout: v.onTimeout === 'fail' ? 'fail' : 'escalate',
  };
}

export class Approvals {
  constructor(private readonly o: { store: RunStore; queue: WorkQueue }) {}

  /** The output goes on as it is: the step completes and the run continues. */
  async approve(step: RunStepRow, actor: string, version?: number): Promise<void> {
    const moved = await this.o.store.decideApproval(step, {
      to: 'completed',
      actor,
      version,
      audit: { action: 'step.approve', fromValue: 'awaiting_approval', toValue: 'completed' },
    });
    if (!moved) throw notWaiting(step);
    await this.o.queue.enqueue(step.runId);
  }

  /** The step pauses with `reason`; its card offers the menus and Retry again. */
  async reject(step: RunStepRow, actor: string, reason: string, version?: number): Promise<void> {
    const why = reason.trim();
    if (why === '') throw new EngineError('invalid_choice', 'Say why the output is rejected.');
    if (why.length > MAX_REJECT_REASON)
      throw new EngineError(
        'invalid_choice',
        `The reason is ${why.length} characters; keep it to ${MAX_REJECT_REASON}.`,
      );
    const moved = await this.o.store.decideApproval(step, {
      to: 'paused',
      actor,
      version,
      data: {
        lastErrorKind: 'rejected',
        lastErrorMessage: why,
        lastErrorStatus: null,
        lastErrorProvider: step.answeredProvider ?? step.provider ?? '',
        lastErrorModel: step.answeredModel ?? step.model,
      },
      audit: { action: 'step.reject', fromValue: 'awaiting_approval', toValue: why },
    });
    if (!moved) throw notWaiting(step);
  }

  /** The edited text becomes the step's output (still awaiting approval), with an audit row. */
  async editOutput(step: RunStepRow, actor: string, output: string, version?: number): Promise<void> {
    if (output.trim() === '') throw new EngineError('invalid_choice', 'The output must not be empty.');
    if (output.length > MAX_EDITED_OUTPUT)
      throw new EngineError(
        'invalid_choice',
        `The output is ${output.length} characters; the limit is ${MAX_EDITED_OUTPUT}.`,
      );
    const edited = await this.o.store.editStep(step, {
      actor,
      editable: ['awaiting_approval'],
      version,
      data: { output },
      audit: { action: 'step.output_edit', fromValue: cut(step.output), toValue: cut(output) },
    });
    if (!edited) throw notWaiting(step);
  }
}

function notWaiting(step: RunStepRow): EngineError {
  return stale(
    `Step *${step.name}* no longer waits for this decision (someone decided or changed it first); the card now shows the latest.`,
  );
}

function cut(value: string | null): string | null {
  if (value === null || value.length <= AUDIT_VALUE_MAX) return value;
  return `${value.slice(0, AUDIT_VALUE_MAX - 1)}…`;
}

const MINUTE_MS = 60_000;
export const APPROVAL_TIMEOUT_ACTOR = 'approval-timeout';

/**
 * The engine's sweep (every process, every half lease): a waiting approval past its
 * timeout_minutes either fails its run (on_timeout: fail) or is escalated once to the alert
 * channel and keeps waiting (on_timeout: escalate). Both are guarded writes, so any number
 * of processes may sweep at once.
 */
export async function expireApprovals(
  o: { store: Pick<RunStore, 'awaitingApprovals' | 'decideApproval' | 'escalateApproval'>; logger: Logger },
  clock: Pick<Clock, 'now'>,
): Promise<{ failed: number; escalated: number }> {
  const now = clock.now();
  let failed = 0;
  let escalated = 0;
  for (const step of await o.store.awaitingApprovals()) {
    const policy = readApproval(step.approval);
    if (!policy?.timeoutMinutes) continue;
    const since = (step.finishedAt ?? step.updatedAt).getTime();
    if (now.getTime() - since < policy.timeoutMinutes * MINUTE_MS) continue;
    if (policy.onTimeout === 'fail') {
      const reason = `Nobody approved step ${step.position + 1} (${step.name}) within ${policy.timeoutMinutes} min.`;
      if (
        await o.store.decideApproval(step, {
          to: 'failed',
          actor: APPROVAL_TIMEOUT_ACTOR,
          runData: { reason },
          audit: { action: 'step.approval_timeout', fromValue: 'awaiting_approval', toValue: 'failed' },
        })
      )
        failed++;
    } else if (
      !step.approvalEscalatedAt &&
      (await o.store.escalateApproval(step, now, APPROVAL_TIMEOUT_ACTOR))
    ) {
      escalated++;
    }
  }
  if (failed + escalated > 0) o.logger.info({ failed, escalated }, 'approval timeouts handled');
  return { failed, escalated };
}
