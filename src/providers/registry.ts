import type { Providers } from '../core/ports.js';
import { type ModelRef, type Provider, ProviderError, type ProviderId } from '../core/provider-spec.js';
import {
  allProviderSettings,
  type BuiltInProviderId,
  createAdapter,
  enableHint,
  isConfigured,
  PROVIDER_IDS,
  type ProviderConfig,
  providerLabel,
} from './table.js';

/**
 * A call to a provider that has no credentials. It is a ProviderError of kind "auth"
 * (code "not_configured") so the engine treats it like any other failed call: fall back or
 * pause, and show the message, which says which variable to set.
 */
export class ProviderNotConfiguredError extends ProviderError {
  override name = 'ProviderNotConfiguredError';
  /** What to set, e.g. "GEMINI_API_KEY". */
  readonly envVar: string;

  constructor(ref: { provider: ProviderId; model?: string | undefined }) {
    const envVar = enableHint(ref.provider);
    super({
      kind: 'auth',
      provider: ref.provider,
      model: ref.model,
      code: 'not_configured',
      message: `${providerLabel(ref.provider)} is not configured: set ${envVar} and restart Switchboard.`,
    });
    this.envVar = envVar;
  }
}

/** The engine's Providers port over the given adapters (the bot's, or a test's fakes): built-ins in table order, then the others as given. */
export function providersOf(adapters: Iterable<Provider>): Providers {
  const byId = new Map<ProviderId, Provider>();
  for (const provider of adapters) byId.set(provider.id, provider);
  const order = (id: ProviderId) => {
    const at = PROVIDER_IDS.indexOf(id as BuiltInProviderId);
    return at === -1 ? PROVIDER_IDS.length : at;
  };
  const configured = [...byId.keys()].sort((a, b) => order(a) - order(b));
  return {
    get: (id) => byId.get(id),
    configured: () => [...configured],
    notConfigured: (ref: ModelRef) => new ProviderNotConfiguredError(ref),
  };
}

/** Real adapters for every configured provider: the built-ins with credentials and every named endpoint. */
export function createProviders(config: ProviderConfig): Providers {
  return providersOf(allProviderSettings(config).filter(isConfigured).map(createAdapter));
}
