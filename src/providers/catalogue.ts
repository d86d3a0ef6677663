import type { Config, ProviderConfig, ProviderId } from '../config.js';

export const PROVIDER_IDS: readonly ProviderId[] = ['openai', 'anthropic', 'google'];

export const PROVIDER_LABELS: Readonly<Record<ProviderId, string>> = {
  openai: 'OpenAI',
  anthropic: 'Anthropic',
  google: 'Google Gemini',
};

/** The variable an admin sets to enable each provider (named in "not configured" errors). */
export const PROVIDER_ENV_VARS: Readonly<Record<ProviderId, string>> = {
  openai: 'OPENAI_API_KEY (or OPENAI_BASE_URL for a local OpenAI-compatible server)',
  anthropic: 'ANTHROPIC_API_KEY',
  google: 'GEMINI_API_KEY',
};

/** Built-in models per provider; the first is the provider's default. OPENAI_MODELS etc. replace them. */
export const DEFAULT_MODELS: Readonly<Record<ProviderId, readonly string[]>> = {
  openai: ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1', 'gpt-4.1-mini', 'o4-mini'],
  anthropic: ['claude-haiku-4-5', 'claude-sonnet-4-5', 'claude-opus-4-1'],
  google: ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.5-flash-lite'],
};

/**
 * A provider is offered when it has credentials. OpenAI is also offered with only a base URL:
 * local OpenAI-compatible servers (Ollama, vLLM) need no key.
 */
export function isConfigured(id: ProviderId, cfg: ProviderConfig): boolean {
  return cfg.apiKey !== undefined || (id === 'openai' && cfg.baseUrl !== undefined);
}

/** Satisfies the core's ModelCatalogue port (src/workflows/catalogue-port.ts) structurally. */
export interface Catalogue {
  /** Providers with credentials, in menu order. */
  readonly providers: ProviderId[];
  /** Models offered in menus: the admin's list (OPENAI_MODELS…) or else the built-in one. */
  models(provider: ProviderId): string[];
  /** Every model known for a provider: the admin's list plus the built-in one. */
  knownModels(provider: ProviderId): string[];
  /** The first of models(provider). */
  defaultModel(provider: ProviderId): string;
  /** True when `model` is one of knownModels(provider). */
  has(provider: ProviderId, model: string): boolean;
  /** Which provider serves a model name, or undefined when nothing says. */
  inferProvider(model: string): ProviderId | undefined;
}

// Prefixes of the providers' own model families.
const FAMILY_PREFIXES: readonly [RegExp, ProviderId][] = [
  [/^(gpt-|chatgpt|o[134](-|$))/, 'openai'],
  [/^claude/, 'anthropic'],
  [/^gemini/, 'google'],
];

export function buildCatalogue(config: Config): Catalogue {
  const lists = Object.fromEntries(
    PROVIDER_IDS.map((id) => {
      const custom = config.providers[id].models;
      return [id, custom.length > 0 ? [...custom] : [...DEFAULT_MODELS[id]]];
    }),
  ) as Record<ProviderId, string[]>;
  const known = (id: ProviderId) => [...new Set([...config.providers[id].models, ...DEFAULT_MODELS[id]])];
  const providers = PROVIDER_IDS.filter((id) => isConfigured(id, config.providers[id]));

  return {
    providers,
    models: (provider) => [...lists[provider]],
    knownModels: known,
    defaultModel: (provider) => lists[provider][0]!,
    has: (provider, model) => known(provider).includes(model),
    inferProvider(model) {
      // The admin's own lists first: a gateway behind OPENAI_BASE_URL may serve "claude-…"
      // models, and then OPENAI_MODELS says so. The built-in lists all follow the family
      // prefixes below, so these cover the rest of the catalogue.
      const listed = PROVIDER_IDS.find((id) => config.providers[id].models.includes(model));
      if (listed) return listed;
      const name = model.trim().toLowerCase();
      return FAMILY_PREFIXES.find(([pattern]) => pattern.test(name))?.[1];
    },
  };
}
