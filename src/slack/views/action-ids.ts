import { isModelName } from '../../core/provider-spec.js';

/**
 * The contract between the views and the interaction handlers: action_ids, block_ids and
 * the values elements carry. Values are plain strings (no JSON) and every parser is strict:
 * anything malformed — a forged or truncated payload — comes back `undefined`.
 *
 * Block ids embed the entity id and its version (`step:<stepId>:v<version>:<part>`), so a
 * handler can tell a click on a stale card from a click on the current one. Changing the
 * block_id on every version also makes Slack clients drop a menu selection the user made
 * on the old card instead of showing it over the new initial_option.
 */

export const ACTIONS = {
  /** static_select, option value `${provider}/${model}`; step from the block_id. */
  selectModel: 'step_model',
  /** static_select, option value a persona id or DEFAULT_PERSONA_VALUE; step from the block_id. */
  selectPersona: 'step_persona',
  /** button, value `${stepId}`. */
  retry: 'step_retry',
  /** button, value `${stepId}`: opens the full-output modal. */
  viewOutput: 'step_output',
  /** buttons, value `${runId}`. */
  runPause: 'run_pause',
  runResume: 'run_resume',
  runCancel: 'run_cancel',
  /**
   * Prefix: the alert's buttons are `alert_retry_with:0` … `alert_retry_with:4` (action_ids
   * must be unique within a block); match with ALERT_RETRY_WITH_PATTERN. Value
   * `${stepId}|${provider}/${model}`.
   */
  alertRetryWith: 'alert_retry_with',
  /** overflow on the parent message's summary, option value RUN_MORE_EDIT; run from the block_id. */
  runMore: 'run_more',
  /** overflow on each step of the workflow editor, values `edit|up|down|dup|remove:<index>`. */
  editorStep: 'wf_step',
  /** button in the workflow editor: pushes an empty step editor. */
  editorAdd: 'wf_add_step',
  /** button in the workflow editor: pushes the budget editor. */
  editorBudget: 'wf_budget',
  /** buttons on a card awaiting approval, value `${stepId}`; step and version from the block_id (docs/control.md). */
  approve: 'step_approve',
  /** opens the modal that edits the output awaiting approval. */
  approveEdit: 'step_approve_edit',
  /** opens the modal that asks why the output is rejected. */
  approveReject: 'step_reject',
  /** button on every card of a finished run, value `${stepId}`: opens the re-run modal. */
  rerun: 'step_rerun',
  /** button on a budget alert, value `${stepId}`: doubles the run's cap and retries the step. */
  raiseBudget: 'alert_raise_budget',
} as const;

/** The parent message's "Edit workflow" overflow option. */
export const RUN_MORE_EDIT = 'edit_workflow';

export type ActionId = (typeof ACTIONS)[keyof typeof ACTIONS];

/** Matches every "Retry with …" button of a failure alert: `app.action(ALERT_RETRY_WITH_PATTERN, …)`. */
export const ALERT_RETRY_WITH_PATTERN = /^alert_retry_with:\d+$/;

export function alertRetryWithActionId(index: number): string {
  return `${ACTIONS.alertRetryWith}:${index}`;
}

/** callback_id of views. */
export const CALLBACKS = {
  fullOutput: 'step_output_modal',
  /** The workflow editor (steps and their overflow menus). */
  editor: 'wf_editor',
  /** A step's editor, pushed on top of the workflow editor. */
  stepEditor: 'wf_step_editor',
  persona: 'persona_editor',
  /** Edit… on a card awaiting approval: the output in a text box. */
  approvalEdit: 'step_approval_edit',
  /** Reject… on a card awaiting approval: the reason. */
  approvalReject: 'step_approval_reject',
  /** Re-run from here…: the later steps' model, persona and prompt. */
  rerun: 'run_rerun',
  /** The workflow's budget, pushed on top of the workflow editor. */
  budgetEditor: 'wf_budget_editor',
  /** "Run a workflow…" from a shortcut (views/run-from-message.ts). */
  runWorkflow: 'run_workflow_modal',
  /** What it shows after the submission (starting, started, refused): closes only. */
  runWorkflowNotice: 'run_workflow_notice',
} as const;

/** callback_ids of the shortcuts (manifest.yml features.shortcuts). */
export const SHORTCUTS = {
  /** Message shortcut "Run a workflow…": the message, or the thread it starts, is the input. */
  fromMessage: 'run_from_message',
  /** Global shortcut "Run a workflow": a text box for the input, a channel to post in. */
  global: 'run_workflow_shortcut',
} as const;

/**
 * private_metadata of the step modals (edit, reject, re-run): the step and the card version
 * the modal was opened from, so a submission on a card that changed since is refused.
 */
export interface StepModalMetadata {
  stepId: string;
  version: number;
}

export function stepModalMetadata(m: StepModalMetadata): string {
  return JSON.stringify({ s: m.stepId, v: m.version });
}

export function parseStepModalMetadata(raw: unknown): StepModalMetadata | undefined {
  try {
    const v = JSON.parse(String(raw)) as { s?: unknown; v?: unknown };
    if (isId(v.s) && Number.isInteger(v.v) && (v.v as number) >= 0)
      return { stepId: v.s, version: v.v as number };
  } catch {
    // fall through
  }
  return undefined;
}

/** Persona menu value for "Workflow default (X)": clears the override. */
export const DEFAULT_PERSONA_VALUE = '__default__';

const ID = /^[A-Za-z0-9_-]{1,64}$/;
const PROVIDER = /^[a-z][a-z0-9_-]{0,31}$/;
const MAX_OPTION_VALUE = 150;

export function isId(value: unknown): value is string {
  return typeof value === 'string' && ID.test(value) && value !== DEFAULT_PERSONA_VALUE;
}

// ── provider/model ───────────────────────────────────────────────────────────

export interface ModelChoice {
  provider: string;
  model: string;
}

/** `${provider}/${model}`, or undefined when it cannot be carried in an option value (150 chars). */
export function modelValue(provider: string, model: string): string | undefined {
  const value = `${provider}/${model}`;
  if (value.length > MAX_OPTION_VALUE || !PROVIDER.test(provider) || !isModelName(model)) return undefined;
  return value;
}

/** Splits at the first `/`: `openrouter/meta-llama/llama-3` → provider `openrouter`, model `meta-llama/llama-3`. */
export function parseModelValue(value: unknown): ModelChoice | undefined {
  if (typeof value !== 'string' || value.length > MAX_OPTION_VALUE) return undefined;
  const slash = value.indexOf('/');
  if (slash <= 0) return undefined;
  const provider = value.slice(0, slash);
  const model = value.slice(slash + 1);
  if (!PROVIDER.test(provider) || !isModelName(model)) return undefined;
  return { provider, model };
}

// ── persona ──────────────────────────────────────────────────────────────────

export type PersonaChoice = { kind: 'default' } | { kind: 'persona'; personaId: string };

export function parsePersonaValue(value: unknown): PersonaChoice | undefined {
  if (value === DEFAULT_PERSONA_VALUE) return { kind: 'default' };
  return isId(value) ? { kind: 'persona', personaId: value } : undefined;
}

// ── buttons ──────────────────────────────────────────────────────────────────

/** Value of Retry / View full output (a step id) and of Pause / Resume / Cancel (a run id). */
export function parseIdValue(value: unknown): string | undefined {
  return isId(value) ? value : undefined;
}

export interface RetryWith extends ModelChoice {
  stepId: string;
}

export function retryWithValue(stepId: string, provider: string, model: string): string | undefined {
  const choice = modelValue(provider, model);
  return choice === undefined || !isId(stepId) ? undefined : `${stepId}|${choice}`;
}

export function parseRetryWithValue(value: unknown): RetryWith | undefined {
  if (typeof value !== 'string') return undefined;
  const bar = value.indexOf('|');
  if (bar <= 0) return undefined;
  const stepId = value.slice(0, bar);
  const choice = parseModelValue(value.slice(bar + 1));
  return isId(stepId) && choice ? { stepId, ...choice } : undefined;
}

// ── block ids ────────────────────────────────────────────────────────────────

export type BlockScope = 'step' | 'run' | 'alert';

export interface BlockRef {
  scope: BlockScope;
  /** The step id (scope step/alert) or run id (scope run). */
  id: string;
  version: number;
  /** Which block of the message: `head`, `menus`, `output`, … */
  part: string;
}

export function blockId(scope: BlockScope, id: string, version: number, part: string): string {
  return `${scope}:${id}:v${version}:${part}`;
}

export const stepBlockId = (stepId: string, version: number, part: string) =>
  blockId('step', stepId, version, part);
export const runBlockId = (runId: string, version: number, part: string) =>
  blockId('run', runId, version, part);
export const alertBlockId = (stepId: string, version: number, part: string) =>
  blockId('alert', stepId, version, part);

const BLOCK_ID = /^(step|run|alert):([A-Za-z0-9_-]{1,64}):v(\d{1,9}):([a-z0-9_-]{1,32})$/;

export function parseBlockId(value: unknown): BlockRef | undefined {
  if (typeof value !== 'string') return undefined;
  const m = BLOCK_ID.exec(value);
  if (!m) return undefined;
  return { scope: m[1] as BlockScope, id: m[2]!, version: Number(m[3]), part: m[4]! };
}

/** The step and card version a click came from, or undefined if the block is not a step card's. */
export function parseStepBlockId(
  value: unknown,
): { stepId: string; version: number; part: string } | undefined {
  const ref = parseBlockId(value);
  return ref?.scope === 'step' ? { stepId: ref.id, version: ref.version, part: ref.part } : undefined;
}

export function parseRunBlockId(
  value: unknown,
): { runId: string; version: number; part: string } | undefined {
  const ref = parseBlockId(value);
  return ref?.scope === 'run' ? { runId: ref.id, version: ref.version, part: ref.part } : undefined;
}
