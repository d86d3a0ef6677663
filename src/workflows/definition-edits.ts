import type { ModelCatalogue } from '../core/ports.js';
import type { StepDefinition, WorkflowDefinition } from '../core/workflow-definition.js';
import { isRefusal, type WorkflowRecord, type WorkflowStore } from '../db/workflow-store.js';
import { formatPath, MAX_STEPS, type SchemaProblem, schemaProblems, workflowFileSchema } from './schema.js';
import { validateWorkflow } from './validate.js';
import { stepToFile, workflowToFile } from './yaml-export.js';

/**
 * Editing a workflow's definition from outside its file (Slack). An edit is a whole new
 * definition, checked by the very rules a file is (file schema, then personas, models and
 * templates), then written as the next version with where it came from and an audit trail.
 * Runs already started keep their snapshot. No Slack here: the Slack layer shows these.
 */

export type AuthoringErrorCode = 'not_found' | 'disabled' | 'stale' | 'invalid';

export class AuthoringError extends Error {
  override name = 'AuthoringError';
  constructor(
    readonly code: AuthoringErrorCode,
    message: string,
    /** For `invalid`: each problem with its path in the file's own terms. */
    readonly problems: SchemaProblem[] = [],
  ) {
    super(message);
  }

  static isInstance(value: unknown): value is AuthoringError {
    return value instanceof AuthoringError;
  }
}

/** A workflow's current definition, as the editor shows it. */
export type EditableWorkflow = Omit<WorkflowRecord, 'notify'>;

/** One field an edit changed, for the audit trail ("steps[1].prompt": from → to). */
export interface FieldChange {
  field: string;
  from: string | null;
  to: string | null;
}

export interface SaveRequest {
  workflowId: string;
  /** The version the editor showed: if someone saved since, the save is refused (stale). */
  expectedVersion: number;
  /** The new definition, already validated (validateEdit). */
  definition: WorkflowDefinition;
  /** Slack user id. */
  actor: string;
  /** "workflow.step.edit", "workflow.step.move", … */
  action: string;
  changes: FieldChange[];
}

/** Audit values are for people: long prompts are cut. */
const AUDIT_VALUE_MAX = 2000;

export class WorkflowAuthoring {
  constructor(
    private readonly store: WorkflowStore,
    private readonly catalogue: ModelCatalogue,
  ) {}

  async load(name: string): Promise<EditableWorkflow> {
    const row = await this.store.record(name);
    if (!row) throw new AuthoringError('not_found', `No workflow named \`${name}\`.`);
    const { notify: _notify, ...editable } = row;
    return editable;
  }

  /**
   * A candidate definition in the file format (snake_case, fallbacks as "provider/model")
   * → the definition that would be stored, or AuthoringError('invalid') with every problem.
   * Personas are the enabled ones in the database (personas.yml plus those made in Slack).
   */
  async validate(file: Record<string, unknown>): Promise<WorkflowDefinition> {
    const parsed = workflowFileSchema.safeParse(file);
    if (!parsed.success) throw invalid(schemaProblems(parsed.error));
    const personas = await this.store.personas();
    const { definition, problems } = validateWorkflow(parsed.data, {
      catalogue: this.catalogue,
      personas: new Set(personas.map((p) => p.name)),
      personasFile: undefined,
    });
    if (problems.length > 0) throw invalid(problems);
    return definition;
  }

  /** Writes the definition as the next version (source "slack:<actor>"), with its audit rows. */
  async save(request: SaveRequest): Promise<{ version: number }> {
    const changes =
      request.changes.length > 0 ? request.changes : [{ field: 'definition', from: null, to: null }];
    const saved = await this.store.saveEdit({
      workflowId: request.workflowId,
      expectedVersion: request.expectedVersion,
      definition: request.definition,
      actor: request.actor,
      action: request.action,
      changes: changes.map((c) => ({ field: c.field, from: cut(c.from), to: cut(c.to) })),
    });
    if (!isRefusal(saved)) return saved;
    if (saved.refused === 'disabled') throw disabled(saved.name);
    if (saved.refused === 'stale') throw stale(saved.name, saved.version);
    throw new AuthoringError('not_found', 'That workflow no longer exists.');
  }
}

function invalid(problems: SchemaProblem[]): AuthoringError {
  const first = problems[0];
  const where = first ? `${formatPath(first.path)}: ${first.message}` : 'the definition is not valid';
  return new AuthoringError('invalid', `Not saved: ${where}`, problems);
}

function disabled(name: string): AuthoringError {
  return new AuthoringError(
    'disabled',
    `Workflow \`${name}\` is disabled (its file was removed), so it cannot be edited.`,
  );
}

function stale(name: string, version: number): AuthoringError {
  return new AuthoringError(
    'stale',
    `Someone else changed \`${name}\` meanwhile (it is now v${version}), so nothing was saved.`,
  );
}

function cut(value: string | null): string | null {
  if (value === null || value.length <= AUDIT_VALUE_MAX) return value;
  return `${value.slice(0, AUDIT_VALUE_MAX - 1)}…`;
}

// ── edits on a definition (pure) ─────────────────────────────────────────────

/** The definition in the file format, with step `index` replaced by `step` (file format too). */
export function withStepFile(
  definition: WorkflowDefinition,
  index: number,
  step: Record<string, unknown>,
): Record<string, unknown> {
  const file = workflowToFile(definition);
  const steps = [...(file.steps as Record<string, unknown>[])];
  if (index >= steps.length) steps.push(step);
  else steps[index] = step;
  return { ...file, steps };
}

export function reorderStep(
  definition: WorkflowDefinition,
  index: number,
  delta: -1 | 1,
): WorkflowDefinition {
  const to = index + delta;
  if (index < 0 || to < 0 || to >= definition.steps.length) return definition;
  const steps = [...definition.steps];
  [steps[index], steps[to]] = [steps[to]!, steps[index]!];
  return { ...definition, steps };
}

export function removeStep(definition: WorkflowDefinition, index: number): WorkflowDefinition {
  return { ...definition, steps: definition.steps.filter((_, i) => i !== index) };
}

/**
 * A copy of step `index` right after it, named `<name>-copy` (then -copy-2, …). It keeps
 * everything, its persona included: the copy names the same persona, so it links the same
 * Persona row — a duplicate never creates a persona.
 */
export function duplicateStep(definition: WorkflowDefinition, index: number): WorkflowDefinition {
  const original = definition.steps[index];
  if (!original) return definition;
  const taken = new Set(definition.steps.map((s) => s.name));
  const base = original.name.slice(0, 64 - '-copy-99'.length);
  let name = `${base}-copy`;
  for (let n = 2; taken.has(name); n++) name = `${base}-copy-${n}`;
  const copy: StepDefinition = structuredClone({ ...original, name });
  const steps = [...definition.steps];
  steps.splice(index + 1, 0, copy);
  return { ...definition, steps };
}

export function canAddStep(definition: WorkflowDefinition): boolean {
  return definition.steps.length < MAX_STEPS;
}

/** What changed between two versions of one step, field by field, as file-format text. */
export function stepChanges(
  before: StepDefinition | undefined,
  after: StepDefinition,
  at: number,
): FieldChange[] {
  const a = before ? stepToFile(before) : {};
  const b = stepToFile(after);
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  return keys
    .filter((k) => JSON.stringify(a[k]) !== JSON.stringify(b[k]))
    .map((k) => ({ field: `steps[${at}].${k}`, from: text(a[k]), to: text(b[k]) }));
}

function text(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.join(', ');
  return JSON.stringify(value);
}
