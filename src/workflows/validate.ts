import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId } from '../core/provider-spec.js';
import type { ModelRef, StepDefinition, WorkflowDefinition } from '../core/workflow-definition.js';
import type { SchemaProblem } from './schema.js';
import { checkTemplate } from './templates.js';

/**
 * Checks a schema-valid workflow against what exists outside its file: personas, the
 * model catalogue, and the other steps (templates). Also completes partial model choices
 * the way precedence would (provider only → its default model; model only → the provider
 * that serves it), so the stored definition says exactly what will run.
 */

export interface ValidationContext {
  catalogue: ModelCatalogue;
  /** Persona names from personas.yml. */
  personas: ReadonlySet<string>;
  /** personas.yml as the author knows it, for hints; undefined when there is none. */
  personasFile: string | undefined;
}

export function validateWorkflow(
  workflow: WorkflowDefinition,
  context: ValidationContext,
): { definition: WorkflowDefinition; problems: SchemaProblem[] } {
  const problems: SchemaProblem[] = [];
  const report = (path: (string | number)[], message: string) => problems.push({ path, message });

  const workflowModel = completeModel(workflow, [], context.catalogue, report);
  checkPersona(workflow.persona, ['persona'], context, report);
  checkFallbacks(workflow.fallbacks, ['fallbacks'], context.catalogue, report);

  const names = workflow.steps.map((s) => s.name);
  const steps = workflow.steps.map((step, i): StepDefinition => {
    const at = ['steps', i];
    checkPersona(step.persona, [...at, 'persona'], context, report);
    checkFallbacks(step.fallbacks, [...at, 'fallbacks'], context.catalogue, report);
    const multiline = step.prompt.includes('\n');
    for (const problem of checkTemplate(step.prompt, {
      earlierSteps: names.slice(0, i),
      laterSteps: names.slice(i + 1),
      isFirst: i === 0,
      self: step.name,
    })) {
      report(
        [...at, 'prompt'],
        multiline ? `${problem.message} (prompt line ${problem.line})` : problem.message,
      );
    }
    return { ...step, ...completeModel(step, at, context.catalogue, report) };
  });

  return { definition: { ...workflow, ...workflowModel, steps }, problems };
}

/** "openai, anthropic or google" */
function orList(items: readonly string[]): string {
  return items.length <= 1 ? items.join('') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`;
}

/** A provider this deployment does not know (a typo, or an endpoint missing from LLM_ENDPOINTS). */
function unknownProvider(
  provider: ProviderId,
  catalogue: ModelCatalogue,
  written: string | undefined = undefined,
): string | undefined {
  if (catalogue.knownProviders.includes(provider)) return undefined;
  const where = written === undefined ? '' : ` in "${written}"`;
  return `unknown provider "${provider}"${where} (known: ${catalogue.knownProviders.join(', ')})`;
}

function completeModel(
  level: { provider?: ProviderId | undefined; model?: string | undefined },
  at: (string | number)[],
  catalogue: ModelCatalogue,
  report: (path: (string | number)[], message: string) => void,
): { provider?: ProviderId | undefined; model?: string | undefined } {
  const { provider, model } = level;
  const unknown = provider === undefined ? undefined : unknownProvider(provider, catalogue);
  if (unknown) {
    report([...at, 'provider'], unknown);
    return { provider, model };
  }
  if (provider && !model) return { provider, model: catalogue.defaultModel(provider) };
  if (model && !provider) {
    const inferred = catalogue.inferProvider(model);
    if (!inferred) {
      report(
        [...at, 'model'],
        `cannot tell which provider serves model "${model}" — add provider: ${orList(catalogue.knownProviders)}`,
      );
      return {};
    }
    checkModel({ provider: inferred, model }, [...at, 'model'], catalogue, report);
    return { provider: inferred, model };
  }
  if (provider && model) checkModel({ provider, model }, [...at, 'model'], catalogue, report);
  return { provider, model };
}

function checkFallbacks(
  fallbacks: readonly ModelRef[],
  at: (string | number)[],
  catalogue: ModelCatalogue,
  report: (path: (string | number)[], message: string) => void,
): void {
  fallbacks.forEach((ref, i) => {
    const unknown = unknownProvider(ref.provider, catalogue, `${ref.provider}/${ref.model}`);
    if (unknown) report([...at, i], unknown);
    else checkModel(ref, [...at, i], catalogue, report);
  });
}

function checkModel(
  ref: ModelRef,
  at: (string | number)[],
  catalogue: ModelCatalogue,
  report: (path: (string | number)[], message: string) => void,
): void {
  const known = catalogue.knownModels(ref.provider);
  if (!known.includes(ref.model)) {
    report(at, `unknown model "${ref.model}" for ${ref.provider} (known: ${known.join(', ') || 'none'})`);
  }
}

function checkPersona(
  persona: string | undefined,
  at: (string | number)[],
  context: ValidationContext,
  report: (path: (string | number)[], message: string) => void,
): void {
  if (persona === undefined || context.personas.has(persona)) return;
  const hint =
    context.personas.size > 0
      ? `known: ${[...context.personas].join(', ')}`
      : context.personasFile
        ? `${context.personasFile} defines none`
        : 'no personas.yml in the workflows folder';
  report(at, `unknown persona "${persona}" (${hint})`);
}
