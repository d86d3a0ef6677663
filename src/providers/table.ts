import type { Provider, ProviderId, ProviderSettings } from '../core/provider-spec.js';
import { createAnthropicProvider } from './anthropic.js';
import { createGoogleProvider } from './google.js';
import { createOpenAIProvider } from './openai.js';

/**
 * The providers Switchboard knows, in one table: everything else (the configuration's
 * variables, the workflow schema's provider names, the catalogue and its menus, the
 * adapters, the words in error messages) is derived from it. Adding a provider: one
 * adapter file and one entry here.
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

/** "OpenAI" for "openai"; the id itself when the table does not know it. */
export function providerLabel(id: ProviderId): string {
  return providerEntry(id)?.label ?? id;
}

/** "OPENAI_API_KEY" for "openai"; "the API key" when the table does not know it. */
export function providerKeyVariable(id: ProviderId): string {
  return providerEntry(id)?.keyVariable ?? 'the API key';
}

/** A provider is offered when it has credentials (or, for OpenAI-compatible servers, a base URL). */
export function isConfigured(
  id: BuiltInProviderId,
  settings: Pick<ProviderSettings, 'apiKey' | 'baseUrl'>,
): boolean {
  return (
    settings.apiKey !== undefined ||
    (PROVIDER_TABLE[id].keyOptionalWithBaseUrl && settings.baseUrl !== undefined)
  );
}

/** Settings for a built-in provider: its identity from the table, the rest as given. */
export function settingsFor(
  id: BuiltInProviderId,
  given: Partial<Pick<ProviderSettings, 'apiKey' | 'baseUrl' | 'models'>> = {},
): ProviderSettings {
  return {
    id,
    label: PROVIDER_TABLE[id].label,
    apiKey: given.apiKey,
    baseUrl: given.baseUrl,
    models: given.models ?? [],
  };
}
