import type { Providers } from '../core/ports.js';
import type { ProviderSettings } from '../core/provider-spec.js';
import { type ModelRef, type Provider, ProviderError, type ProviderId } from '../core/provider-spec.js';
import {
  type BuiltInProviderId,
  isConfigured,
  PROVIDER_IDS,
  PROVIDER_TABLE,
  providerEntry,
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

function enableHint(id: ProviderId): string {
  const entry = providerEntry(id);
  if (!entry) return 'its API key';
  return entry.keyOptionalWithBaseUrl
    ? `${entry.keyVariable} (or ${entry.baseUrlVariable} for a local OpenAI-compatible server)`
    : entry.keyVariable;
}

/** The engine's Providers port over the given adapters (the bot's, or a test's fakes). */
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

/** Real adapters for every provider of the table that the configuration has credentials for. */
export function createProviders(config: {
  providers: Record<BuiltInProviderId, ProviderSettings>;
}): Providers {
  return providersOf(
    PROVIDER_IDS.filter((id) => isConfigured(id, config.providers[id])).map((id) =>
      PROVIDER_TABLE[id].create(config.providers[id]),
    ),
  );
}
