import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId } from '../core/provider-spec.js';
import type { ModelRef } from '../core/workflow-definition.js';

/**
 * Precedence, exactly as docs/architecture.md ("Precedence") states it:
 *   provider/model: run-step override > step definition > workflow default > global default
 *   persona:        run-step override > step definition > workflow persona > none
 * Pure: no I/O, no config reads; the caller passes every level.
 */

export type ModelSource = 'override' | 'step' | 'workflow' | 'global';
export type PersonaSource = 'override' | 'step' | 'workflow' | 'none';

/** A level sets provider, model, both or neither; null and '' count as unset. */
export interface ModelLevel {
  provider?: ProviderId | null | undefined;
  model?: string | null | undefined;
}

export interface ModelLevels {
  override?: ModelLevel | null | undefined;
  step?: ModelLevel | null | undefined;
  workflow?: ModelLevel | null | undefined;
  /** DEFAULT_PROVIDER / DEFAULT_MODEL from config. */
  global?: ModelLevel | null | undefined;
}

export interface ResolvedModel extends ModelRef {
  source: ModelSource;
}

export type PrecedenceCatalogue = Pick<ModelCatalogue, 'providers' | 'defaultModel' | 'inferProvider'>;

/** No level names a model and no provider has credentials. */
export class NoProviderError extends Error {
  override name = 'NoProviderError';
  constructor() {
    super(
      'No LLM provider is configured, so this step has no model to run on. ' +
        'Set OPENAI_API_KEY, ANTHROPIC_API_KEY or GEMINI_API_KEY (GOOGLE_API_KEY also works) and start again, ' +
        'or give the workflow a provider and model.',
    );
  }
}

/** A level names a model without a provider and no known provider serves it. */
export class UnknownModelProviderError extends Error {
  override name = 'UnknownModelProviderError';
  constructor(
    readonly model: string,
    readonly source: ModelSource,
  ) {
    super(
      `Cannot tell which provider serves model "${model}" (from the ${source} level); ` +
        'name the provider too, e.g. openai/gpt-4o-mini.',
    );
  }
}

const ORDER = ['override', 'step', 'workflow', 'global'] as const;

const present = <T extends string>(value: T | null | undefined): T | undefined =>
  value === null || value === undefined || value === '' ? undefined : value;

export function resolveModel(levels: ModelLevels, catalogue: PrecedenceCatalogue): ResolvedModel {
  for (const source of ORDER) {
    const level = levels[source];
    const provider = present(level?.provider);
    const model = present(level?.model);
    if (provider && model) return { provider, model, source };
    if (provider) return { provider, model: catalogue.defaultModel(provider), source };
    if (model) {
      const inferred = catalogue.inferProvider(model);
      if (!inferred) throw new UnknownModelProviderError(model, source);
      return { provider: inferred, model, source };
    }
  }
  const first = catalogue.providers[0];
  if (!first) throw new NoProviderError();
  return { provider: first, model: catalogue.defaultModel(first), source: 'global' };
}

export interface PersonaLevels {
  override?: string | null | undefined;
  step?: string | null | undefined;
  workflow?: string | null | undefined;
}

export interface ResolvedPersona {
  /** Whatever the levels hold (persona id or name); null when no level sets one. */
  persona: string | null;
  source: PersonaSource;
}

/**
 * Clearing the override ("Use workflow default" in the card menu) means passing null: the
 * step's persona, then the workflow's, apply again.
 */
export function resolvePersona(levels: PersonaLevels): ResolvedPersona {
  for (const source of ['override', 'step', 'workflow'] as const) {
    const persona = present(levels[source]);
    if (persona) return { persona, source };
  }
  return { persona: null, source: 'none' };
}
