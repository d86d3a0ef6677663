import { isAbsolute, relative } from 'node:path';
import { z } from 'zod';
import type { Config } from '../config.js';
import type { ModelCatalogue } from '../core/ports.js';
import type { ScheduleDefinition, StepDefinition, WorkflowDefinition } from '../core/workflow-definition.js';
import type { WorkflowStore } from '../db/workflow-store.js';
import { resolveModel } from '../engine/precedence.js';
import {
  AuthoringError,
  canAddStep,
  duplicateStep,
  type EditableWorkflow,
  type FieldChange,
  removeStep,
  reorderStep,
  stepChanges,
  WorkflowAuthoring,
  withStepFile,
} from '../workflows/definition-edits.js';
import { formatPath, MAX_STEPS, type SchemaProblem } from '../workflows/schema.js';
import { budgetToFile, exportWorkflowYaml, stepToFile, workflowToFile } from '../workflows/yaml-export.js';
import { mayEditWorkflow, type PermissionPolicy } from './permissions.js';
import { menuOptions, type ViewContext } from './view-model.js';
import {
  budgetEditorModal,
  DEFAULT_MODEL_VALUE,
  DEFAULT_PERSONA_VALUE,
  type EditorMetadata,
  type EditorStep,
  errorMessage,
  exportFitsMessage,
  exportMessage,
  INPUT_ACTION,
  type ModalView,
  type OriginView,
  parseModelValue,
  type StepEditorMetadata,
  type StepOperation,
  stepEditorModal,
  unknownWorkflowMessage,
  workflowEditorModal,
} from './views/index.js';
import type { MessagePayload } from './views/model.js';
import { inlineCode, mrkdwnToPlain, safeMrkdwn } from './views/text.js';

/**
 * Authoring from Slack: the workflow editor and step editor modals, and export (personas:
 * persona-editor.ts).
 * Each handler checks who may act (owners and admins), reads the definition fresh, applies
 * one change, validates it by the workflow-file rules and saves it as a new version
 * (WorkflowAuthoring). The listeners do the Slack calls (views.open/push/update, acks).
 */

/** A modal's `state.values`: per block, per action, the value typed or the option or conversation chosen. */
export const viewStateValuesSchema = z.record(
  z.string(),
  z.record(
    z.string(),
    z.object({
      type: z.string(),
      value: z.string().nullish(),
      selected_option: z.object({ value: z.string() }).nullish(),
      selected_conversation: z.string().nullish(),
    }),
  ),
);

/** The fields of a view_submission we read: each input's value or chosen option. */
export const viewSubmissionSchema = z.object({
  type: z.literal('view_submission'),
  user: z.object({ id: z.string().min(1) }),
  view: z.object({
    id: z.string(),
    callback_id: z.string(),
    private_metadata: z.string().default(''),
    root_view_id: z.string().nullish(),
    previous_view_id: z.string().nullish(),
    state: z.object({ values: viewStateValuesSchema }),
  }),
});

export type ViewSubmission = z.infer<typeof viewSubmissionSchema>;
type Values = ViewSubmission['view']['state']['values'];

/** What a submission answers: errors keyed by block_id, or done (optionally with what to show next). */
export type SubmitResult =
  | { errors: Record<string, string> }
  | {
      ok: true /** The workflow editor to show again (views.update of the root view). */;
      editor?: ModalView;
      confirmation?: ModalView;
    };

/** An editor click answers with the editor redrawn, a view to push, or a refusal. */
export type EditorResult = { update: ModalView } | { push: ModalView } | { refusal: MessagePayload };

export interface AuthoringServiceOptions {
  workflows: WorkflowStore;
  catalogue: ModelCatalogue;
  config: Pick<Config, 'defaults'>;
  views: ViewContext;
  policy: PermissionPolicy;
  /** For showing file paths relative to the working folder (default process.cwd()). */
  cwd?: string;
}

const FIELD_BLOCK: Record<string, string> = {
  name: 'name',
  prompt: 'prompt',
  provider: 'model',
  model: 'model',
  persona: 'persona',
  fallbacks: 'fallbacks',
  approval: 'approval',
};

/** Where a problem inside a step's `approval:` goes in the step editor. */
const APPROVAL_BLOCK: Record<string, string> = {
  timeout_minutes: 'approval_timeout',
  on_timeout: 'approval_on_timeout',
};

const USER = /^<?@?([UW][A-Z0-9]{2,})(?:\|[^>]*)?>?$/;
const GROUP = /^<?!?(?:subteam\^)?(S[A-Z0-9]{2,})(?:\|[^>]*)?>?$/;

export class AuthoringService {
  readonly definitions: WorkflowAuthoring;

  constructor(private readonly o: AuthoringServiceOptions) {
    this.definitions = new WorkflowAuthoring(o.workflows, o.catalogue);
  }

  // ── the workflow editor ────────────────────────────────────────────────────

  /** `/workflow edit <name>` or "Edit workflow" on a run: the editor, or why not. */
  async openEditor(name: string, userId: string): Promise<{ view: ModalView } | { refusal: MessagePayload }> {
    const loaded = await this.loadOrRefuse(name);
    if ('refusal' in loaded) return loaded;
    const denied = this.editRefusal(loaded.workflow, userId);
    if (denied) return { refusal: denied };
    return { view: this.editorView(loaded.workflow) };
  }

  /** An overflow choice on a step in the editor. */
  async onStepOperation(
    meta: EditorMetadata,
    op: StepOperation,
    index: number,
    userId: string,
  ): Promise<EditorResult> {
    const ready = await this.ready(meta, userId);
    if ('result' in ready) return ready.result;
    const { workflow } = ready;
    const step = workflow.definition.steps[index];
    if (!step)
      return { update: this.editorView(workflow, { ok: false, text: 'That step is no longer there.' }) };
    if (op === 'edit') return { push: await this.stepEditor(workflow, index, false) };

    const before = workflow.definition;
    let after: WorkflowDefinition;
    let action: string;
    let changes: FieldChange[];
    let done: string;
    const name = `*${safeMrkdwn(step.name)}*`;
    switch (op) {
      case 'up':
      case 'down': {
        const to = index + (op === 'up' ? -1 : 1);
        after = reorderStep(before, index, op === 'up' ? -1 : 1);
        action = 'workflow.step.move';
        changes = [
          { field: `steps[${index}]`, from: `${index + 1}. ${step.name}`, to: `${to + 1}. ${step.name}` },
        ];
        done = `moved ${name} ${op} to position ${to + 1}`;
        break;
      }
      case 'dup': {
        after = duplicateStep(before, index);
        const copy = after.steps[index + 1]!;
        action = 'workflow.step.duplicate';
        changes = [{ field: `steps[${index + 1}]`, from: step.name, to: copy.name }];
        done = `duplicated ${name} as *${safeMrkdwn(copy.name)}*`;
        break;
      }
      case 'remove':
        after = removeStep(before, index);
        action = 'workflow.step.remove';
        changes = [{ field: `steps[${index}]`, from: step.name, to: null }];
        done = `removed ${name}`;
        break;
    }
    try {
      const definition = await this.definitions.validate(workflowToFile(after));
      const saved = await this.definitions.save({
        workflowId: workflow.id,
        expectedVersion: workflow.version,
        definition,
        actor: userId,
        action,
        changes,
      });
      const fresh = await this.definitions.load(workflow.name);
      return { update: this.editorView(fresh, { ok: true, text: `Saved v${saved.version}: ${done}.` }) };
    } catch (error) {
      if (!AuthoringError.isInstance(error)) throw error;
      const fresh = await this.definitions.load(workflow.name);
      return { update: this.editorView(fresh, { ok: false, text: safeMrkdwn(error.message) }) };
    }
  }

  /** "Add step" in the editor: an empty step editor pushed on top. */
  async onAddStep(meta: EditorMetadata, userId: string): Promise<EditorResult> {
    const ready = await this.ready(meta, userId);
    if ('result' in ready) return ready.result;
    if (!canAddStep(ready.workflow.definition)) {
      return {
        update: this.editorView(ready.workflow, {
          ok: false,
          text: `A workflow has at most ${MAX_STEPS} steps.`,
        }),
      };
    }
    return { push: await this.stepEditor(ready.workflow, ready.workflow.definition.steps.length, true) };
  }

  /** The step editor's Save: validate by the file rules, save, and give the editor back. */
  async submitStep(meta: StepEditorMetadata, values: Values, userId: string): Promise<SubmitResult> {
    const fallbackBlock = values.prompt ? 'prompt' : 'name';
    let workflow: EditableWorkflow;
    try {
      workflow = await this.definitions.load(meta.workflow);
    } catch (error) {
      if (AuthoringError.isInstance(error)) return { errors: { [fallbackBlock]: error.message } };
      throw error;
    }
    const denied = mayEditWorkflow(userId, workflow, this.o.policy);
    if (!denied.allowed) return { errors: { [fallbackBlock]: mrkdwnToPlain(denied.message) } };
    if (workflow.version !== meta.version) {
      return {
        errors: {
          [fallbackBlock]: `Someone else changed ${workflow.name} meanwhile (now v${workflow.version}), so this was not saved. Go back and open the step again.`,
        },
      };
    }
    const prior = meta.adding ? undefined : workflow.definition.steps[meta.index];
    if (!meta.adding && !prior) return { errors: { [fallbackBlock]: 'That step is no longer there.' } };
    const index = meta.adding ? workflow.definition.steps.length : meta.index;

    const step = await this.stepFromValues(values, prior);
    if ('errors' in step) return step;
    try {
      const definition = await this.definitions.validate(withStepFile(workflow.definition, index, step.file));
      const after = definition.steps[index]!;
      const saved = await this.definitions.save({
        workflowId: workflow.id,
        expectedVersion: workflow.version,
        definition,
        actor: userId,
        action: meta.adding ? 'workflow.step.add' : 'workflow.step.edit',
        changes: stepChanges(prior, after, index),
      });
      const fresh = await this.definitions.load(workflow.name);
      const what = meta.adding ? 'added' : 'edited';
      return {
        ok: true,
        editor: this.editorView(fresh, {
          ok: true,
          text: `Saved v${saved.version}: ${what} step *${safeMrkdwn(after.name)}*.`,
        }),
      };
    } catch (error) {
      if (!AuthoringError.isInstance(error)) throw error;
      if (error.code !== 'invalid') return { errors: { [fallbackBlock]: error.message } };
      return { errors: blockErrors(error.problems, index, new Set(Object.keys(values)), fallbackBlock) };
    }
  }

  // ── the budget ────────────────────────────────────────────────────────────

  /** "Budget…" in the editor: the budget modal pushed on top. */
  async onBudget(meta: EditorMetadata, userId: string): Promise<EditorResult> {
    const ready = await this.ready(meta, userId);
    if ('result' in ready) return ready.result;
    const { workflow } = ready;
    return {
      push: budgetEditorModal({
        workflow: workflow.name,
        version: workflow.version,
        budget: workflow.definition.budget,
      }),
    };
  }

  /** The budget modal's Save: validated by the file rules, saved as a new version. */
  async submitBudget(meta: EditorMetadata, values: Values, userId: string): Promise<SubmitResult> {
    let workflow: EditableWorkflow;
    try {
      workflow = await this.definitions.load(meta.workflow);
    } catch (error) {
      if (AuthoringError.isInstance(error)) return { errors: { per_run_usd: error.message } };
      throw error;
    }
    const denied = mayEditWorkflow(userId, workflow, this.o.policy);
    if (!denied.allowed) return { errors: { per_run_usd: mrkdwnToPlain(denied.message) } };
    if (workflow.version !== meta.version) {
      return {
        errors: {
          per_run_usd: `Someone else changed ${workflow.name} meanwhile (now v${workflow.version}), so this was not saved. Go back and open the budget again.`,
        },
      };
    }
    const budget: Record<string, unknown> = {};
    for (const field of ['per_run_usd', 'per_day_usd'] as const) {
      const raw = values[field]?.[INPUT_ACTION]?.value?.trim().replace(/^\$/, '') ?? '';
      // Anything that is not a plain number goes to the file rules as text, which say why.
      if (raw !== '') budget[field] = /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : raw;
    }
    const file = workflowToFile(workflow.definition);
    if (Object.keys(budget).length > 0) file.budget = budget;
    else delete file.budget;
    try {
      const definition = await this.definitions.validate(file);
      const before = budgetToFile(workflow.definition.budget);
      const after = budgetToFile(definition.budget);
      const saved = await this.definitions.save({
        workflowId: workflow.id,
        expectedVersion: workflow.version,
        definition,
        actor: userId,
        action: 'workflow.budget',
        changes: [
          {
            field: 'budget',
            from: before ? JSON.stringify(before) : null,
            to: after ? JSON.stringify(after) : null,
          },
        ],
      });
      const fresh = await this.definitions.load(workflow.name);
      return {
        ok: true,
        editor: this.editorView(fresh, { ok: true, text: `Saved v${saved.version}: budget updated.` }),
      };
    } catch (error) {
      if (!AuthoringError.isInstance(error)) throw error;
      if (error.code !== 'invalid') return { errors: { per_run_usd: error.message } };
      const errors: Record<string, string> = {};
      for (const p of error.problems) {
        const [top, field] = p.path;
        const block = top === 'budget' && field === 'per_day_usd' ? 'per_day_usd' : 'per_run_usd';
        const message = top === 'budget' ? p.message : `${formatPath(p.path)}: ${p.message}`;
        errors[block] = errors[block] ? `${errors[block]}; ${message}` : message;
      }
      return { errors };
    }
  }

  // ── export ────────────────────────────────────────────────────────────────

  /** `/workflow export <name>`: the YAML, and a message when it is short enough for one. */
  /**
   * The workflow as a file. `keepSchedules` says which of its schedules the reader may see
   * (a schedule names its channel and its input); the others are left out, and the header
   * says how many.
   */
  async export(
    name: string,
    options: {
      keepSchedules?: (schedules: ScheduleDefinition[]) => Promise<ScheduleDefinition[]>;
    } = {},
  ): Promise<{ yaml: string; message?: MessagePayload; filename: string } | { refusal: MessagePayload }> {
    const loaded = await this.loadOrRefuse(name, { includeDisabled: true });
    if ('refusal' in loaded) return loaded;
    const { workflow } = loaded;
    const origin = this.originView(workflow);
    const all = workflow.definition.schedules ?? [];
    const kept = options.keepSchedules && all.length > 0 ? await options.keepSchedules(all) : all;
    const left = all.length - kept.length;
    const yaml = exportWorkflowYaml(
      { ...workflow.definition, schedules: kept },
      `${workflow.name} v${workflow.version}, exported from Switchboard (${origin.kind === 'slack' ? `edited in Slack by ${origin.detail}` : origin.kind === 'file' ? `from ${origin.detail}` : 'origin unknown'}).` +
        (left > 0
          ? `\n${left} schedule${left === 1 ? '' : 's'} posting in channels you are not in ${left === 1 ? 'is' : 'are'} left out.`
          : ''),
    );
    const filename = `${workflow.name}.yml`;
    return exportFitsMessage(yaml)
      ? { yaml, filename, message: exportMessage(workflow.name, yaml, origin) }
      : { yaml, filename };
  }

  // ── shared ────────────────────────────────────────────────────────────────

  /** Where a workflow's current version came from, for people. */
  originView(w: Pick<EditableWorkflow, 'version' | 'origin' | 'sourcePath'>): OriginView {
    const o = w.origin;
    if (o?.source.startsWith('slack:')) return { version: w.version, kind: 'slack', detail: o.createdBy };
    if (o?.source.startsWith('file:')) {
      return { version: w.version, kind: 'file', detail: this.displayPath(o.source.slice('file:'.length)) };
    }
    if (w.sourcePath) return { version: w.version, kind: 'file', detail: this.displayPath(w.sourcePath) };
    return { version: w.version, kind: 'unknown', detail: '' };
  }

  private displayPath(path: string): string {
    const cwd = this.o.cwd ?? process.cwd();
    const rel = relative(cwd, path);
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
  }

  private async loadOrRefuse(
    name: string,
    opts: { includeDisabled?: boolean } = {},
  ): Promise<{ workflow: EditableWorkflow } | { refusal: MessagePayload }> {
    try {
      const workflow = await this.definitions.load(name);
      if (!workflow.enabled && !opts.includeDisabled) {
        return {
          refusal: errorMessage(
            `Workflow ${inlineCode(name)} is disabled (its file was removed), so it cannot be edited.`,
          ),
        };
      }
      return { workflow };
    } catch (error) {
      if (!AuthoringError.isInstance(error) || error.code !== 'not_found') throw error;
      const names = await this.o.workflows.names();
      return { refusal: unknownWorkflowMessage(name, names) };
    }
  }

  private editRefusal(workflow: EditableWorkflow, userId: string): MessagePayload | undefined {
    const decision = mayEditWorkflow(userId, workflow, this.o.policy);
    return decision.allowed ? undefined : errorMessage(decision.message);
  }

  /** The workflow behind an editor click, if the clicker may still edit it and the editor is current. */
  private async ready(
    meta: EditorMetadata,
    userId: string,
  ): Promise<{ workflow: EditableWorkflow } | { result: EditorResult }> {
    const loaded = await this.loadOrRefuse(meta.workflow);
    if ('refusal' in loaded) return { result: loaded };
    const denied = this.editRefusal(loaded.workflow, userId);
    if (denied) return { result: { refusal: denied } };
    if (loaded.workflow.version !== meta.version) {
      return {
        result: {
          update: this.editorView(loaded.workflow, {
            ok: false,
            text: `Someone else changed this workflow meanwhile (it is now v${loaded.workflow.version}); this is the latest. Nothing was changed.`,
          }),
        },
      };
    }
    return loaded;
  }

  editorView(workflow: EditableWorkflow, notice?: { ok: boolean; text: string }): ModalView {
    const d = workflow.definition;
    return workflowEditorModal({
      name: workflow.name,
      description: d.description,
      version: workflow.version,
      origin: this.originView(workflow),
      owners: workflow.owners,
      defaultModel: this.defaultModel(d),
      defaultPersona: d.persona ?? null,
      steps: d.steps.map(editorStep),
      maxSteps: MAX_STEPS,
      budget: d.budget,
      notice,
    });
  }

  private async stepEditor(workflow: EditableWorkflow, index: number, adding: boolean): Promise<ModalView> {
    const personas = await this.o.workflows.personas();
    const d = workflow.definition;
    const step: EditorStep = adding
      ? { name: newStepName(d), prompt: '', fallbacks: [] }
      : editorStep(d.steps[index]!);
    return stepEditorModal({
      workflow: workflow.name,
      version: workflow.version,
      index,
      adding,
      total: d.steps.length,
      step,
      providers: menuOptions(this.o.views, personas).providers,
      personas,
      defaultModel: this.defaultModel(d),
      defaultPersona: d.persona ?? null,
    });
  }

  private defaultModel(d: WorkflowDefinition): string {
    try {
      const r = resolveModel({ workflow: d, global: this.o.config.defaults }, this.o.catalogue);
      return `${r.provider}/${r.model}`;
    } catch {
      return 'none configured';
    }
  }

  /** The submitted step in the file format (keeping what the editor does not show: retry, timeout). */
  private async stepFromValues(
    values: Values,
    prior: StepDefinition | undefined,
  ): Promise<{ file: Record<string, unknown> } | { errors: Record<string, string> }> {
    const get = (block: string) => values[block]?.[INPUT_ACTION];
    const file: Record<string, unknown> = prior ? stepToFile(prior) : {};
    file.name = get('name')?.value?.trim() ?? '';
    const prompt = get('prompt');
    if (prompt) file.prompt = prompt.value ?? '';
    else if (!prior) file.prompt = '';
    delete file.provider;
    delete file.model;
    const model = get('model')?.selected_option?.value;
    if (model && model !== DEFAULT_MODEL_VALUE) {
      const choice = parseModelValue(model);
      if (!choice) return { errors: { model: 'Pick a model from the list.' } };
      file.provider = choice.provider;
      file.model = choice.model;
    }
    delete file.persona;
    const personaId = get('persona')?.selected_option?.value;
    if (personaId && personaId !== DEFAULT_PERSONA_VALUE) {
      const persona = await this.o.workflows.personaById(personaId);
      if (!persona) return { errors: { persona: 'That persona no longer exists: pick another.' } };
      // The step names the persona; saving links that same Persona row by id.
      file.persona = persona.name;
    }
    const fallbacks = (get('fallbacks')?.value ?? '')
      .split(/[,\n]/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (fallbacks.length > 0) file.fallbacks = fallbacks;
    else delete file.fallbacks;
    const approval = approvalFromValues(get);
    if ('error' in approval) return { errors: { approval: approval.error } };
    if (approval.file) file.approval = approval.file;
    else delete file.approval;
    return { file };
  }
}

function editorStep(s: StepDefinition): EditorStep {
  const a = s.approval;
  return {
    name: s.name,
    prompt: s.prompt,
    provider: s.provider,
    model: s.model,
    persona: s.persona,
    fallbacks: s.fallbacks.map((f) => `${f.provider}/${f.model}`),
    approval: a
      ? {
          approvers: [
            ...a.users,
            ...(a.usergroup ? [a.usergroup] : []),
            ...(a.starter ? ['starter'] : []),
            ...(a.owners ? ['owners'] : []),
          ],
          timeoutMinutes: a.timeoutMinutes,
          onTimeout: a.onTimeout,
        }
      : undefined,
  };
}

/**
 * The step editor's approval inputs → the step's `approval:` in the file format (checked by
 * the file rules after), none when both boxes are empty, or why a word is not an approver.
 */
function approvalFromValues(
  get: (block: string) => { value?: string | null; selected_option?: { value: string } | null } | undefined,
): { file?: Record<string, unknown> } | { error: string } {
  const words = (get('approval')?.value ?? '')
    .split(/[,\s]+/)
    .map((w) => w.trim())
    .filter(Boolean);
  const timeout = get('approval_timeout')?.value?.trim() ?? '';
  if (words.length === 0 && timeout === '') return {};
  const file: Record<string, unknown> = {};
  const users: string[] = [];
  for (const word of words) {
    const user = USER.exec(word)?.[1];
    const group = GROUP.exec(word)?.[1];
    if (user) users.push(user);
    else if (group) {
      if (file.usergroup && file.usergroup !== group) return { error: 'Name at most one user group.' };
      file.usergroup = group;
    } else if (word.toLowerCase() === 'starter') file.starter = true;
    else if (word.toLowerCase() === 'owners') file.owners = true;
    else
      return {
        error: `"${word}" is not an approver: use Slack user ids (U012AB3CD), one user group id (S0REVIEWERS), "starter" or "owners".`,
      };
  }
  if (users.length > 0) file.users = [...new Set(users)];
  if (timeout !== '') {
    // Anything but digits goes to the file rules as text, which say what is expected.
    file.timeout_minutes = /^\d{1,6}$/.test(timeout) ? Number(timeout) : timeout;
    file.on_timeout = get('approval_on_timeout')?.selected_option?.value ?? 'escalate';
  }
  return { file };
}

function newStepName(d: WorkflowDefinition): string {
  const taken = new Set(d.steps.map((s) => s.name));
  for (let n = d.steps.length + 1; ; n++) if (!taken.has(`step-${n}`)) return `step-${n}`;
}

/**
 * File-rule problems → `response_action: errors`, keyed by the step editor's block ids. A
 * problem in the edited step goes to its field's input; anything else (another step, the
 * workflow) goes to `fallback` with its path, so nothing is silently dropped.
 */
export function blockErrors(
  problems: readonly SchemaProblem[],
  index: number,
  blocks: ReadonlySet<string>,
  fallback: string,
): Record<string, string> {
  const errors: Record<string, string> = {};
  for (const p of problems) {
    const [top, at, field, inner] = p.path;
    const mapped =
      top === 'steps' && typeof field === 'string'
        ? field === 'approval' && typeof inner === 'string'
          ? (APPROVAL_BLOCK[inner] ?? 'approval')
          : FIELD_BLOCK[field]
        : undefined;
    const block = mapped && blocks.has(mapped) ? mapped : fallback;
    const message =
      top === 'steps' && at === index && mapped ? p.message : `${formatPath(p.path)}: ${p.message}`;
    const joined = errors[block] ? `${errors[block]}; ${message}` : message;
    errors[block] = joined.length > 500 ? `${joined.slice(0, 499)}…` : joined;
  }
  return errors;
}
