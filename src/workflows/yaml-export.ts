import { stringify } from 'yaml';
import type {
  ApprovalPolicy,
  BudgetPolicy,
  ModelRef,
  PersonaDefinition,
  RetryPolicy,
  ScheduleDefinition,
  StepDefinition,
  WorkflowDefinition,
} from '../core/workflow-definition.js';

/**
 * A definition back into the workflow file format (README "Workflow files": snake_case keys,
 * fallbacks as "provider/model"). Loading the result through the loader gives the same
 * definition again, so `/workflow export` can be committed as the workflow's file, and the
 * Slack editor validates an edit by running this object through the file schema: one set
 * of rules for both.
 */

type FileObject = Record<string, unknown>;

const ref = (r: ModelRef) => `${r.provider}/${r.model}`;

/** Only the keys that are set, in the order the README shows them. */
function compact(entries: [string, unknown][]): FileObject {
  return Object.fromEntries(entries.filter(([, v]) => v !== undefined));
}

function retry(policy: RetryPolicy | undefined): FileObject | undefined {
  if (!policy) return undefined;
  // Always the object form: `retries: n` would load back as the same policy, but only when
  // maxAttempts is the sole field.
  return compact([
    ['max_attempts', policy.maxAttempts],
    ['base_ms', policy.baseMs],
    ['max_ms', policy.maxMs],
  ]);
}

function list<T>(items: readonly T[] | undefined, map: (item: T) => unknown): unknown[] | undefined {
  return items && items.length > 0 ? items.map(map) : undefined;
}

/** Only what differs from the defaults, so a file round-trips to the same definition. */
export function approvalToFile(a: ApprovalPolicy | undefined): FileObject | undefined {
  if (!a) return undefined;
  return compact([
    ['users', a.users.length > 0 ? [...a.users] : undefined],
    ['usergroup', a.usergroup],
    ['starter', a.starter ? true : undefined],
    ['owners', a.owners ? true : undefined],
    ['timeout_minutes', a.timeoutMinutes],
    ['on_timeout', a.timeoutMinutes === undefined ? undefined : a.onTimeout],
  ]);
}

export function budgetToFile(b: BudgetPolicy | undefined): FileObject | undefined {
  if (!b) return undefined;
  return compact([
    ['per_run_usd', b.perRunUsd],
    ['per_day_usd', b.perDayUsd],
  ]);
}

export function stepToFile(step: StepDefinition): FileObject {
  return compact([
    ['name', step.name],
    ['prompt', step.prompt],
    ['persona', step.persona],
    ['provider', step.provider],
    ['model', step.model],
    ['fallbacks', list(step.fallbacks, ref)],
    ['retry', retry(step.retry)],
    ['timeout_seconds', step.timeoutSeconds],
    ['approval', approvalToFile(step.approval)],
  ]);
}

function scheduleToFile(s: ScheduleDefinition): FileObject {
  return compact([
    ['cron', s.cron],
    ['timezone', s.timezone],
    ['channel', s.channel],
    ['input', s.input === '' ? undefined : s.input],
    ['overlap', s.overlap === 'skip' ? undefined : s.overlap],
    ['missed', s.missed === 'run_once' ? undefined : s.missed],
    ['pause_timeout_minutes', s.pauseTimeoutMinutes],
  ]);
}

/** The workflow as its file would hold it (plain data, ready for YAML or the file schema). */
export function workflowToFile(definition: WorkflowDefinition): FileObject {
  return compact([
    ['name', definition.name],
    ['description', definition.description === '' ? undefined : definition.description],
    ['persona', definition.persona],
    ['provider', definition.provider],
    ['model', definition.model],
    ['notify', definition.notify],
    ['owners', list(definition.owners, (o) => o)],
    ['runners', list(definition.runners, (o) => o)],
    ['fallbacks', list(definition.fallbacks, ref)],
    ['retry', retry(definition.retry)],
    ['timeout_seconds', definition.timeoutSeconds],
    ['budget', budgetToFile(definition.budget)],
    ['steps', definition.steps.map(stepToFile)],
    ['schedules', list(definition.schedules, scheduleToFile)],
  ]);
}

export function personaToFile(persona: PersonaDefinition): FileObject {
  return compact([
    ['name', persona.name],
    ['description', persona.description === '' ? undefined : persona.description],
    ['system', persona.system],
  ]);
}

/** YAML text of a workflow file, with a header saying where it came from. */
export function exportWorkflowYaml(definition: WorkflowDefinition, header?: string): string {
  const body = stringify(workflowToFile(definition), {
    lineWidth: 0,
    // Multi-line prompts as block scalars, which is how people write them by hand.
    blockQuote: 'literal',
  });
  const comment = header
    ? `${header
        .split('\n')
        .map((line) => `# ${line}`.trimEnd())
        .join('\n')}\n`
    : '';
  return `${comment}${body}`;
}
