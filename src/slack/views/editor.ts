import type { types } from '@slack/bolt';
import { formatUsd } from '../../core/cost.js';
import { ACTIONS, CALLBACKS, DEFAULT_PERSONA_VALUE, isId, modelValue } from './action-ids.js';
import {
  actions,
  type Block,
  button,
  context,
  LIMITS,
  type ModalView,
  option,
  type PlainTextOption,
  plain,
  section,
} from './blocks.js';
import type { PersonaMenu, ProviderMenu } from './model.js';
import { starterMrkdwn } from './status.js';
import { excerpt, mrkdwn, safeMrkdwn } from './text.js';

/**
 * Authoring in Slack (pure builders): the workflow editor modal (its steps, each with an
 * overflow menu: edit, move, duplicate, remove) and the step editor pushed on top of it.
 * Inputs are checked on submit by the same rules as workflow files; errors come back keyed
 * by these block ids. Personas: personas.ts; export: export.ts.
 */

export type ViewBlock = Block | types.InputBlock;

/** Input block ids of the step editor; a file path maps onto them (steps[i].model → model). */
export const STEP_FIELDS = [
  'name',
  'prompt',
  'model',
  'persona',
  'fallbacks',
  'approval',
  'approval_timeout',
  'approval_on_timeout',
] as const;
export type StepField = (typeof STEP_FIELDS)[number];
/** Every input's action_id (one element per input block). */
export const INPUT_ACTION = 'value';
/** Slack's plain_text_input holds at most 3000 characters. */
export const MAX_INPUT = 3000;
/** Value of the "Workflow default" model option. */
export const DEFAULT_MODEL_VALUE = '__default__';

// ── where a version came from ─────────────────────────────────────────────────

export interface OriginView {
  version: number;
  /** file: `detail` is the file path to show; slack: the user id. */
  kind: 'file' | 'slack' | 'unknown';
  detail: string;
}

/** "v7 · edited in Slack by <@U123>" / "v3 · from workflows/release-notes.yml" (mrkdwn). */
export function originMrkdwn(origin: OriginView): string {
  if (origin.kind === 'slack')
    return `v${origin.version} · edited in Slack by ${starterMrkdwn(origin.detail)}`;
  if (origin.kind === 'file') return `v${origin.version} · from ${safeMrkdwn(excerpt(origin.detail, 200))}`;
  return `v${origin.version}`;
}

// ── the workflow editor ──────────────────────────────────────────────────────

export interface EditorStep {
  name: string;
  prompt: string;
  provider?: string | undefined;
  model?: string | undefined;
  persona?: string | undefined;
  fallbacks: string[];
  /** Its approval gate as the editor shows it (docs/control.md); undefined: none. */
  approval?: EditorApproval | undefined;
}

export interface EditorApproval {
  /** User ids, a user group id, "starter", "owners": one box, comma-separated. */
  approvers: string[];
  timeoutMinutes?: number | undefined;
  onTimeout: 'fail' | 'escalate';
}

/** The budget line of the editor ("$1.00 per run · $20.00 per day"). */
export interface EditorBudget {
  perRunUsd?: number | undefined;
  perDayUsd?: number | undefined;
}

export interface EditorInput {
  name: string;
  description: string;
  version: number;
  origin: OriginView;
  owners: readonly string[];
  /** What a step with no model of its own uses: "anthropic/claude-haiku-4-5". */
  defaultModel: string;
  defaultPersona: string | null;
  steps: readonly EditorStep[];
  maxSteps: number;
  budget?: EditorBudget | undefined;
  /** A line at the top: what the last action did, or why it did nothing (safe mrkdwn). */
  notice?: { ok: boolean; text: string } | undefined;
}

export interface EditorMetadata {
  workflow: string;
  version: number;
}

export function editorMetadata(m: EditorMetadata): string {
  return JSON.stringify({ w: m.workflow, v: m.version });
}

export function parseEditorMetadata(raw: unknown): EditorMetadata | undefined {
  try {
    const v = JSON.parse(String(raw)) as { w?: unknown; v?: unknown };
    if (typeof v.w === 'string' && Number.isInteger(v.v)) return { workflow: v.w, version: v.v as number };
  } catch {
    // fall through
  }
  return undefined;
}

export type StepOperation = 'edit' | 'up' | 'down' | 'dup' | 'remove';
const OPERATIONS: readonly StepOperation[] = ['edit', 'up', 'down', 'dup', 'remove'];

export function parseStepOperation(value: unknown): { op: StepOperation; index: number } | undefined {
  const m = typeof value === 'string' ? /^([a-z]+):(\d{1,3})$/.exec(value) : null;
  if (!m || !OPERATIONS.includes(m[1] as StepOperation)) return undefined;
  return { op: m[1] as StepOperation, index: Number(m[2]) };
}

function stepOverflow(index: number, total: number): types.Overflow {
  const options: PlainTextOption[] = [option('Edit…', `edit:${index}`)];
  if (index > 0) options.push(option('Move up', `up:${index}`));
  if (index < total - 1) options.push(option('Move down', `down:${index}`));
  options.push(option('Duplicate', `dup:${index}`));
  if (total > 1) options.push(option('Remove', `remove:${index}`));
  return { type: 'overflow', action_id: ACTIONS.editorStep, options };
}

function stepSummary(step: EditorStep, index: number, input: EditorInput): string {
  const model =
    step.provider && step.model ? `${step.provider}/${step.model}` : `default (${input.defaultModel})`;
  const persona = step.persona ?? (input.defaultPersona ? `default (${input.defaultPersona})` : 'none');
  const fallbacks = step.fallbacks.length > 0 ? ` · then ${step.fallbacks.join(', ')}` : '';
  const gate = step.approval ? ` · approval: ${excerpt(step.approval.approvers.join(', '), 80)}` : '';
  return [
    `*${index + 1}. ${safeMrkdwn(excerpt(step.name, 64))}*${safeMrkdwn(gate)}`,
    safeMrkdwn(`${model} · persona: ${excerpt(persona, 75)}${fallbacks}`),
    `>${mrkdwn(excerpt(step.prompt, 180), 600)}`,
  ].join('\n');
}

/** The workflow editor: one section per step with its overflow menu, and "Add step". */
export function workflowEditorModal(input: EditorInput): ModalView {
  const blocks: ViewBlock[] = [
    section(
      'wf-head',
      `*${safeMrkdwn(input.name)}*${input.description ? ` — ${mrkdwn(excerpt(input.description, 200), 600)}` : ''}`,
    ),
    context('wf-origin', [
      originMrkdwn(input.origin),
      safeMrkdwn(`default model ${input.defaultModel} · persona ${input.defaultPersona ?? 'none'}`),
      `owners: ${input.owners.length > 0 ? input.owners.slice(0, 5).map(starterMrkdwn).join(', ') : 'none (admins only)'}`,
      `budget: ${budgetWords(input.budget)}`,
    ]),
  ];
  if (input.notice) {
    blocks.push(
      section('wf-notice', `${input.notice.ok ? ':white_check_mark:' : ':warning:'} ${input.notice.text}`),
    );
  }
  blocks.push({ type: 'divider', block_id: 'wf-divider' });
  input.steps.forEach((step, i) => {
    blocks.push({
      type: 'section',
      block_id: `wf-step-${i}`,
      text: { type: 'mrkdwn', text: stepSummary(step, i, input) },
      accessory: stepOverflow(i, input.steps.length),
    });
  });
  const buttons = [button({ actionId: ACTIONS.editorBudget, text: 'Budget…', value: 'budget' })];
  if (input.steps.length < input.maxSteps)
    buttons.unshift(button({ actionId: ACTIONS.editorAdd, text: 'Add step', value: 'add' }));
  blocks.push(actions('wf-add', buttons));
  blocks.push(
    context('wf-help', [
      'Each change is saved at once as a new version, checked by the same rules as workflow files. Runs already started keep the definition they started with.',
    ]),
  );
  return {
    type: 'modal',
    callback_id: CALLBACKS.editor,
    private_metadata: editorMetadata({ workflow: input.name, version: input.version }),
    title: plain('Edit workflow', LIMITS.modalTitle),
    close: plain('Done', LIMITS.modalTitle),
    blocks: blocks as ModalView['blocks'],
  };
}

function budgetWords(b: EditorBudget | undefined): string {
  const parts = [
    b?.perRunUsd !== undefined ? `${formatUsd(b.perRunUsd)} per run` : '',
    b?.perDayUsd !== undefined ? `${formatUsd(b.perDayUsd)} per day` : '',
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(' · ') : 'none';
}

// ── the budget editor ────────────────────────────────────────────────────────

/** The workflow's budget (docs/control.md): two amounts in USD, pushed on top of the editor. */
export function budgetEditorModal(b: {
  workflow: string;
  version: number;
  budget?: EditorBudget | undefined;
}): ModalView {
  const amount = (v: number | undefined) => (v === undefined ? '' : String(v));
  const blocks: ViewBlock[] = [
    context('budget-where', [`${safeMrkdwn(b.workflow)} · v${b.version}`]),
    input(
      'per_run_usd',
      'Per run (USD)',
      textInput(amount(b.budget?.perRunUsd), { max: 20, placeholder: '0.50' }),
      {
        optional: true,
        hint: 'The most one run may spend. Before a call that could cross it, the step pauses.',
      },
    ),
    input(
      'per_day_usd',
      'Per day (USD)',
      textInput(amount(b.budget?.perDayUsd), { max: 20, placeholder: '20' }),
      {
        optional: true,
        hint: 'The most all its runs may spend together in a UTC day. Leave both empty for no budget.',
      },
    ),
  ];
  return {
    type: 'modal',
    callback_id: CALLBACKS.budgetEditor,
    private_metadata: editorMetadata({ workflow: b.workflow, version: b.version }),
    title: plain('Budget', LIMITS.modalTitle),
    submit: plain('Save', LIMITS.modalTitle),
    close: plain('Back', LIMITS.modalTitle),
    blocks: blocks as ModalView['blocks'],
  };
}

// ── the step editor ──────────────────────────────────────────────────────────

export interface StepEditorInput {
  workflow: string;
  version: number;
  /** Where the step is (or goes, when adding). */
  index: number;
  adding: boolean;
  total: number;
  step: EditorStep;
  providers: readonly ProviderMenu[];
  personas: readonly PersonaMenu[];
  defaultModel: string;
  defaultPersona: string | null;
}

export interface StepEditorMetadata extends EditorMetadata {
  index: number;
  adding: boolean;
}

export function parseStepEditorMetadata(raw: unknown): StepEditorMetadata | undefined {
  try {
    const v = JSON.parse(String(raw)) as { w?: unknown; v?: unknown; i?: unknown; a?: unknown };
    if (typeof v.w === 'string' && Number.isInteger(v.v) && Number.isInteger(v.i) && (v.i as number) >= 0) {
      return { workflow: v.w, version: v.v as number, index: v.i as number, adding: v.a === true };
    }
  } catch {
    // fall through
  }
  return undefined;
}

export const input = (
  blockId: string,
  label: string,
  element: types.InputBlockElement,
  opts: { hint?: string; optional?: boolean } = {},
): types.InputBlock => {
  const block: types.InputBlock = { type: 'input', block_id: blockId, label: plain(label, 2000), element };
  if (opts.hint) block.hint = plain(opts.hint, 2000);
  if (opts.optional) block.optional = true;
  return block;
};

export const textInput = (
  value: string,
  opts: { multiline?: boolean; max: number; placeholder?: string },
): types.PlainTextInput => {
  const element: types.PlainTextInput = {
    type: 'plain_text_input',
    action_id: INPUT_ACTION,
    multiline: opts.multiline ?? false,
    max_length: opts.max,
  };
  if (value) element.initial_value = value;
  if (opts.placeholder) element.placeholder = plain(opts.placeholder, 150);
  return element;
};

function modelInput(s: StepEditorInput): types.StaticSelect {
  const defaultOption = option(`Workflow default (${s.defaultModel})`, DEFAULT_MODEL_VALUE);
  const groups: { label: types.PlainTextElement; options: PlainTextOption[] }[] = [
    { label: plain('Default', LIMITS.optionText), options: [defaultOption] },
  ];
  let initial: PlainTextOption = defaultOption;
  const current = s.step.provider && s.step.model ? modelValue(s.step.provider, s.step.model) : undefined;
  // Slack allows 100 options: the default and the current choice always get theirs.
  let budget = LIMITS.optionsPerSelect - 1 - (current ? 1 : 0);
  const providers = [...s.providers];
  // A model named in the definition but not offered here (provider not configured) is kept visible.
  if (current && !providers.some((p) => p.id === s.step.provider)) {
    providers.push({ id: s.step.provider!, label: s.step.provider!, models: [] });
  }
  for (const provider of providers) {
    const options: PlainTextOption[] = [];
    const models = [...provider.models];
    if (current && provider.id === s.step.provider && !models.includes(s.step.model!))
      models.unshift(s.step.model!);
    for (const model of models) {
      const value = modelValue(provider.id, model);
      if (!value) continue;
      if (value === current) {
        initial = option(model, value);
        options.push(initial);
        continue;
      }
      if (budget <= 0) continue;
      options.push(option(model, value));
      budget--;
    }
    if (options.length > 0) groups.push({ label: plain(provider.label, LIMITS.optionText), options });
  }
  return {
    type: 'static_select',
    action_id: INPUT_ACTION,
    option_groups: groups,
    initial_option: initial,
  };
}

function onTimeoutInput(current: 'fail' | 'escalate'): types.StaticSelect {
  const options = [
    option('Tell the alert channel and keep waiting', 'escalate'),
    option('Fail the run', 'fail'),
  ];
  return {
    type: 'static_select',
    action_id: INPUT_ACTION,
    options,
    initial_option: options.find((o) => o.value === current) ?? options[0]!,
  };
}

function personaInput(s: StepEditorInput): types.StaticSelect {
  const defaultOption = option(`Workflow default (${s.defaultPersona ?? 'none'})`, DEFAULT_PERSONA_VALUE);
  const personas = [...new Map(s.personas.filter((p) => isId(p.id)).map((p) => [p.id, p])).values()].slice(
    0,
    LIMITS.optionsPerSelect - 1,
  );
  const options = [defaultOption, ...personas.map((p) => option(excerpt(p.name, LIMITS.optionText), p.id))];
  const current = s.step.persona ? personas.find((p) => p.name === s.step.persona) : undefined;
  return {
    type: 'static_select',
    action_id: INPUT_ACTION,
    options,
    initial_option: (current && options.find((o) => o.value === current.id)) || defaultOption,
  };
}

/** Edit (or add) one step: name, prompt, provider/model, persona and fallbacks. */
export function stepEditorModal(s: StepEditorInput): ModalView {
  const where = s.adding
    ? `New step ${s.index + 1} of ${safeMrkdwn(s.workflow)} (after v${s.version})`
    : `Step ${s.index + 1}/${s.total} of ${safeMrkdwn(s.workflow)} · v${s.version}`;
  const blocks: ViewBlock[] = [
    context('step-where', [where]),
    input('name', 'Name', textInput(s.step.name, { max: 64, placeholder: 'summarize' }), {
      hint: 'Lowercase letters, digits, "-" and "_". Later steps use it: {{steps.<name>.output}}.',
    }),
  ];
  if (s.step.prompt.length > MAX_INPUT) {
    blocks.push(
      section(
        'prompt-too-long',
        `*Prompt* — ${s.step.prompt.length.toLocaleString('en-US')} characters, more than a Slack text box holds (${MAX_INPUT.toLocaleString('en-US')}); it is kept as it is. Change it in the workflow file.`,
      ),
    );
  } else {
    blocks.push(
      input(
        'prompt',
        'Prompt',
        textInput(s.step.prompt, {
          multiline: true,
          max: MAX_INPUT,
          placeholder: 'Summarize these changes:\n{{input}}',
        }),
        {
          hint: 'Variables: {{input}}, {{previous.output}}, {{steps.<earlier step>.output}}, {{run.id}}, {{date}}. \\{{ writes a literal {{.',
        },
      ),
    );
  }
  blocks.push(
    input('model', 'Provider / model', modelInput(s)),
    input('persona', 'Persona', personaInput(s)),
    input(
      'fallbacks',
      'Fallbacks',
      textInput(s.step.fallbacks.join(', '), {
        max: 1000,
        placeholder: 'openai/gpt-4o-mini, google/gemini-2.5-flash',
      }),
      {
        optional: true,
        hint: 'provider/model, comma-separated, tried in this order when the step’s model fails.',
      },
    ),
    input(
      'approval',
      'Approval: who approves its output',
      textInput(s.step.approval?.approvers.join(', ') ?? '', {
        max: 1000,
        placeholder: 'U012AB3CD, S0REVIEWERS, starter, owners',
      }),
      {
        optional: true,
        hint: 'User ids, a user group id, "starter" (who started the run) or "owners". Empty: the step does not wait for approval.',
      },
    ),
    input(
      'approval_timeout',
      'Approval timeout (minutes)',
      textInput(s.step.approval?.timeoutMinutes === undefined ? '' : String(s.step.approval.timeoutMinutes), {
        max: 6,
        placeholder: '60',
      }),
      { optional: true, hint: 'Empty: the output waits as long as it takes.' },
    ),
    input(
      'approval_on_timeout',
      'After the timeout',
      onTimeoutInput(s.step.approval?.onTimeout ?? 'escalate'),
    ),
  );
  return {
    type: 'modal',
    callback_id: CALLBACKS.stepEditor,
    private_metadata: JSON.stringify({ w: s.workflow, v: s.version, i: s.index, a: s.adding }),
    title: plain(s.adding ? 'Add step' : 'Edit step', LIMITS.modalTitle),
    submit: plain('Save', LIMITS.modalTitle),
    close: plain('Back', LIMITS.modalTitle),
    blocks: blocks as ModalView['blocks'],
  };
}
