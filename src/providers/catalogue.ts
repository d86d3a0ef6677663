import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderId, ProviderSettings } from '../core/provider-spec.js';
import {
  allProviderSettings,
  isConfigured,
  PROVIDER_IDS,
  type ProviderConfig,
  providerEntry,
} from './table.js';

/**
 * The model catalogue (the core's ModelCatalogue port), from the provider table, the
 * admin's lists and the named endpoints (LLM_ENDPOINTS): every provider the deployment
 * knows, in menu order, with its label and models.
 */
export function buildCatalogue(config: ProviderConfig): ModelCatalogue {
  const all = allProviderSettings(config);
  const byId = new Map<ProviderId, ProviderSettings>(all.map((s) => [s.id, s]));
  /** Offered in menus: the admin's list, else a built-in's own. An endpoint always has a list. */
  const menu = (id: ProviderId): string[] => {
    const settings = byId.get(id);
    if (!settings) return [];
    if (settings.models.length > 0) return [...settings.models];
    return [...(providerEntry(id)?.defaultModels ?? [])];
  };
  /** Known for validation: the admin's list plus a built-in's own, so files naming a built-in model load. */
  const known = (id: ProviderId): string[] => {
    const settings = byId.get(id);
    if (!settings) return [];
    return [...new Set([...settings.models, ...(providerEntry(id)?.defaultModels ?? [])])];
  };

  return {
    providers: all.filter(isConfigured).map((s) => s.id),
    knownProviders: all.map((s) => s.id),
    label: (provider) => byId.get(provider)?.label ?? provider,
    models: (provider) => menu(provider),
    knownModels: known,
    defaultModel: (provider) => menu(provider)[0] ?? '',
    has: (provider, model) => known(provider).includes(model),
    inferProvider(model) {
      // The admin's own lists first: a gateway behind OPENAI_BASE_URL may serve "claude-…"
      // models, and then OPENAI_MODELS says so; an endpoint's models are only in its list.
      // A model two lists name is ambiguous: the file must say which provider.
      const listed = all.filter((s) => s.models.includes(model));
      if (listed.length > 0) return listed.length === 1 ? listed[0]!.id : undefined;
      const name = model.trim().toLowerCase();
      return PROVIDER_IDS.find((id) => providerEntry(id)?.family.test(name));
    },
  };
}
