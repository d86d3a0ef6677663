import type { Config, ProviderConfig, ProviderId } from '../config.js';
import { createAnthropicProvider } from './anthropic.js';
import { isConfigured, PROVIDER_ENV_VARS, PROVIDER_IDS, PROVIDER_LABELS } from './catalogue.js';
import { createGoogleProvider } from './google.js';
import { createOpenAIProvider } from './openai.js';
import { type Provider, ProviderError } from './provider.js';

/** Adding a provider: one new adapter file and one line here. */
const FACTORIES: Record<ProviderId, (cfg: ProviderConfig) => Provider> = {
  openai: createOpenAIProvider,
  anthropic: createAnthropicProvider,
  google: createGoogleProvider,
};

/**
 * Asking for a provider that has no credentials. It is a ProviderError of kind "auth"
 * (code "not_configured") so the engine treats it like any other failed call: fall back or
 * pause, and show the message, which says which variable to set.
 */
export class ProviderNotConfiguredError extends ProviderError {
  override name = 'ProviderNotConfiguredError';
  readonly envVar: string;

  constructor(provider: ProviderId) {
    super({
      kind: 'auth',
      provider,
      code: 'not_configured',
      message: `${PROVIDER_LABELS[provider]} is not configured: set ${PROVIDER_ENV_VARS[provider]} and restart Switchboard.`,
    });
    this.envVar = PROVIDER_ENV_VARS[provider];
  }
}

export interface ProviderRegistry {
  /** The provider's adapter; throws ProviderNotConfiguredError when it has no credentials. */
  get(id: ProviderId): Provider;
  has(id: ProviderId): boolean;
  /** Configured providers, in menu order. */
  configured(): ProviderId[];
}

/** A registry over given adapters: what tests and the engine's fakes use. */
export function createProviderRegistry(providers: Iterable<Provider>): ProviderRegistry {
  const byId = new Map<ProviderId, Provider>();
  for (const provider of providers) byId.set(provider.id, provider);
  return {
    get(id) {
      const provider = byId.get(id);
      if (!provider) throw new ProviderNotConfiguredError(id);
      return provider;
    },
    has: (id) => byId.has(id),
    configured: () => PROVIDER_IDS.filter((id) => byId.has(id)),
  };
}

/** Real adapters for every provider the configuration has credentials for. */
export function createProviders(config: Config): ProviderRegistry {
  return createProviderRegistry(
    PROVIDER_IDS.filter((id) => isConfigured(id, config.providers[id])).map((id) =>
      FACTORIES[id](config.providers[id]),
    ),
  );
}
