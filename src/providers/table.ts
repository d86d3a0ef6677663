import type { Provider, ProviderId, ProviderSettings } from '../core/provider-spec.js';
import { createAnthropicProvider } from './anthropic.js';
import { createGoogleProvider } from './google.js';
import { createOpenAIProvider } from './openai.js';

/**
 * The providers Switchboard knows, in one table: everything else (the configuration's
 * variables, the catalogue and its menus, the adapters, the words in error messages) is
 * derived from it. Adding a provider: one adapter file and one entry here. Below the table,
 * the rule for the named OpenAI-compatible endpoints an admin adds beside them
 * (LLM_ENDPOINTS), which need no entry.
 */

interface ProviderEntry {
  /** Human name: menus, cards, alerts, errors. */
  label: string;
  /** The variable an admin sets to enable it (named in "not configured" and "key rejected" advice). */
  keyVariable: string;
  /** Other names accepted for the key, checked after keyVariable. */
  keyAliases: readonly string[];
  baseUrlVariable: string;
  /** An example for the base URL variable's error message. */
  baseUrlExample: string;
  modelsVariable: string;
  /** Built-in models; the first is the provider's default. */
  defaultModels: readonly string[];
  /** Model names of this provider's own families, to infer the provider from a bare model name. */
  family: RegExp;
  /** Offered with only a base URL: local OpenAI-compatible servers (Ollama, vLLM) need no key. */
  keyOptionalWithBaseUrl: boolean;
  create: (settings: ProviderSettings) => Provider;
}

export const PROVIDER_TABLE = {
  openai: {
    label: 'OpenAI',
    keyVariable: 'OPENAI_API_KEY',
    keyAliases: [],
    baseUrlVariable: 'OPENAI_BASE_URL',
    baseUrlExample: 'https://api.openai.com/v1',
    modelsVariable: 'OPENAI_MODELS',
    defaultModels: ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1', 'gpt-4.1-mini', 'o4-mini'],
    family: /^(gpt-|chatgpt|o[134](-|$))/,
    keyOptionalWithBaseUrl: true,
    create: createOpenAIProvider,
  },
  anthropic: {
    label: 'Anthropic',
    keyVariable: 'ANTHROPIC_API_KEY',
    keyAliases: [],
    baseUrlVariable: 'ANTHROPIC_BASE_URL',
    baseUrlExample: 'https://api.anthropic.com',
    modelsVariable: 'ANTHROPIC_MODELS',
    defaultModels: ['claude-haiku-4-5', 'claude-sonnet-4-5', 'claude-opus-4-1'],
    family: /^claude/,
    keyOptionalWithBaseUrl: false,
    create: createAnthropicProvider,
  },
  google: {
    label: 'Google Gemini',
    keyVariable: 'GEMINI_API_KEY',
    keyAliases: ['GOOGLE_API_KEY'],
    baseUrlVariable: 'GEMINI_BASE_URL',
    baseUrlExample: 'https://generativelanguage.googleapis.com',
    modelsVariable: 'GEMINI_MODELS',
    defaultModels: ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-2.5-flash-lite'],
    family: /^gemini/,
    keyOptionalWithBaseUrl: false,
    create: createGoogleProvider,
  },
} as const satisfies Record<string, ProviderEntry>;

export type BuiltInProviderId = keyof typeof PROVIDER_TABLE;

/** In menu order; the first configured one is the global fallback. */
export const PROVIDER_IDS = Object.keys(PROVIDER_TABLE) as BuiltInProviderId[];

export function isBuiltInProvider(value: string): value is BuiltInProviderId {
  return Object.hasOwn(PROVIDER_TABLE, value);
}

/** The entry for an id, or undefined for an id the table does not know (stored data, forged input). */
export function providerEntry(id: ProviderId): ProviderEntry | undefined {
  return isBuiltInProvider(id) ? PROVIDER_TABLE[id] : undefined;
}

// ── named OpenAI-compatible endpoints ─────────────────────────────────────────

/**
 * Besides the built-ins, an admin may name any number of OpenAI-compatible endpoints
 * (`LLM_ENDPOINTS=ollama,vllm`), each a provider of its own beside OpenAI: its id is what
 * workflows write before the slash (`ollama/llama3.1`), and its variables are derived from
 * the id by one rule (`OLLAMA_BASE_URL`, `OLLAMA_API_KEY`, `OLLAMA_MODELS`, `OLLAMA_LABEL`).
 * They go through the OpenAI adapter (Chat Completions), so they need no code of their own.
 */
export const ENDPOINTS_VARIABLE = 'LLM_ENDPOINTS';

/** Lowercase letters and digits in dash-separated words, starting with a letter: `ollama`, `my-gateway`. */
const ENDPOINT_ID = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const ENDPOINT_ID_MAX = 32;
/** Ids with a meaning of their own elsewhere (a card shows "none" when nothing can serve a step). */
const RESERVED_IDS = new Set(['none']);

export interface EndpointVariables {
  /** Required: the server's OpenAI-compatible base URL, e.g. http://localhost:11434/v1. */
  baseUrl: string;
  /** Optional: local servers need no key. */
  apiKey: string;
  /** Required: the models it serves, comma-separated, the first the default. */
  models: string;
  /** Optional: its name in menus and messages (default: the id). */
  label: string;
}

/** `my-gateway` → `MY_GATEWAY_BASE_URL`, `MY_GATEWAY_API_KEY`, `MY_GATEWAY_MODELS`, `MY_GATEWAY_LABEL`. */
export function endpointVariables(id: string): EndpointVariables {
  const prefix = id.toUpperCase().replace(/-/g, '_');
  return {
    baseUrl: `${prefix}_BASE_URL`,
    apiKey: `${prefix}_API_KEY`,
    models: `${prefix}_MODELS`,
    label: `${prefix}_LABEL`,
  };
}

/** Every variable a built-in provider reads. */
function builtInVariables(id: BuiltInProviderId): string[] {
  const entry = PROVIDER_TABLE[id];
  return [entry.keyVariable, ...entry.keyAliases, entry.baseUrlVariable, entry.modelsVariable];
}

/** Why `id` cannot name an endpoint (in words for the admin), or undefined when it can. */
export function endpointIdProblem(id: string): string | undefined {
  if (!ENDPOINT_ID.test(id) || id.length > ENDPOINT_ID_MAX) {
    return `"${id}" is not a valid endpoint name: use up to ${ENDPOINT_ID_MAX} lowercase letters, digits and dashes, starting with a letter (e.g. ollama, my-gateway)`;
  }
  if (isBuiltInProvider(id)) {
    return `"${id}" is a built-in provider; name the endpoint differently (e.g. ${id}-proxy), or set ${PROVIDER_TABLE[id].baseUrlVariable} to move ${PROVIDER_TABLE[id].label} itself`;
  }
  if (RESERVED_IDS.has(id)) return `"${id}" is reserved; name the endpoint differently`;
  const own = Object.values(endpointVariables(id));
  for (const builtIn of PROVIDER_IDS) {
    const clash = builtInVariables(builtIn).find((v) => own.includes(v));
    if (clash) {
      return `"${id}" would read ${clash}, which belongs to ${PROVIDER_TABLE[builtIn].label}; name the endpoint differently`;
    }
  }
  return undefined;
}

// ── what every provider is, built in or named ─────────────────────────────────

/** The providers part of the configuration (src/config.ts): the built-ins' settings and the endpoints'. */
export interface ProviderConfig {
  providers: Record<BuiltInProviderId, ProviderSettings>;
  /** The endpoints of LLM_ENDPOINTS, in the order listed there. */
  endpoints: readonly ProviderSettings[];
}

/** Every provider this deployment knows, configured or not, in menu order: the built-ins, then the endpoints. */
export function allProviderSettings(config: ProviderConfig): ProviderSettings[] {
  return [...PROVIDER_IDS.map((id) => config.providers[id]), ...config.endpoints];
}

/**
 * A provider is offered when it has credentials; OpenAI also with only a base URL (local
 * OpenAI-compatible servers need no key), and an endpoint always (its base URL is required).
 */
export function isConfigured(settings: Pick<ProviderSettings, 'id' | 'apiKey' | 'baseUrl'>): boolean {
  const entry = providerEntry(settings.id);
  if (!entry) return settings.baseUrl !== undefined;
  return settings.apiKey !== undefined || (entry.keyOptionalWithBaseUrl && settings.baseUrl !== undefined);
}

/** The adapter for a provider's settings: the table's for a built-in, the OpenAI one for an endpoint. */
export function createAdapter(settings: ProviderSettings): Provider {
  const entry = providerEntry(settings.id);
  return entry ? entry.create(settings) : createOpenAIProvider(settings);
}

/** "OpenAI" for "openai"; the id itself when the table does not know it (an endpoint's label is in its settings). */
export function providerLabel(id: ProviderId): string {
  return providerEntry(id)?.label ?? id;
}

/** "OPENAI_API_KEY" for "openai", "OLLAMA_API_KEY" for an endpoint "ollama"; "the API key" otherwise. */
export function providerKeyVariable(id: ProviderId): string {
  const entry = providerEntry(id);
  if (entry) return entry.keyVariable;
  return endpointIdProblem(id) === undefined ? endpointVariables(id).apiKey : 'the API key';
}

/** What an admin sets to offer a provider that is not configured, e.g. "GEMINI_API_KEY". */
export function enableHint(id: ProviderId): string {
  const entry = providerEntry(id);
  if (!entry) {
    if (endpointIdProblem(id) !== undefined) return 'its API key';
    const vars = endpointVariables(id);
    return `${ENDPOINTS_VARIABLE} (add ${id}) with ${vars.baseUrl} and ${vars.models}`;
  }
  return entry.keyOptionalWithBaseUrl
    ? `${entry.keyVariable} (or ${entry.baseUrlVariable} for a local OpenAI-compatible server)`
    : entry.keyVariable;
}

/** Settings for a provider: a built-in's identity from the table, or an endpoint's id as its label; the rest as given. */
export function settingsFor(
  id: ProviderId,
  given: Partial<Pick<ProviderSettings, 'apiKey' | 'baseUrl' | 'models' | 'label'>> = {},
): ProviderSettings {
  return {
    id,
    label: given.label ?? providerLabel(id),
    apiKey: given.apiKey,
    baseUrl: given.baseUrl,
    models: given.models ?? [],
  };
}
