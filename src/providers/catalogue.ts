import type { ModelCatalogue } from '../core/ports.js';
import type { ProviderSettings } from '../core/provider-spec.js';
import {
  type BuiltInProviderId,
  isBuiltInProvider,
  isConfigured,
  PROVIDER_IDS,
  PROVIDER_TABLE,
} from './table.js';

/** The model catalogue (the core's ModelCatalogue port), from the provider table and the admin's lists. */
export function buildCatalogue(config: {
  providers: Record<BuiltInProviderId, ProviderSettings>;
}): ModelCatalogue {
  const settings = (id: BuiltInProviderId) => config.providers[id];
  const menu = new Map<string, string[]>(
    PROVIDER_IDS.map((id) => {
      const custom = settings(id).models;
      return [id, custom.length > 0 ? [...custom] : [...PROVIDER_TABLE[id].defaultModels]];
    }),
  );
  const known = (id: string) =>
    isBuiltInProvider(id) ? [...new Set([...settings(id).models, ...PROVIDER_TABLE[id].defaultModels])] : [];

  return {
    providers: PROVIDER_IDS.filter((id) => isConfigured(id, settings(id))),
    models: (provider) => [...(menu.get(provider) ?? [])],
    knownModels: known,
    defaultModel: (provider) => menu.get(provider)?.[0] ?? '',
    has: (provider, model) => known(provider).includes(model),
    inferProvider(model) {
      // The admin's own lists first: a gateway behind OPENAI_BASE_URL may serve "claude-…"
      // models, and then OPENAI_MODELS says so. The built-in lists all follow the family
      // patterns of the table, so these cover the rest of the catalogue.
      const listed = PROVIDER_IDS.find((id) => settings(id).models.includes(model));
      if (listed) return listed;
      const name = model.trim().toLowerCase();
      return PROVIDER_IDS.find((id) => PROVIDER_TABLE[id].family.test(name));
    },
  };
}
