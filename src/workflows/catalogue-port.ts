import type { ProviderId } from '../config.js';

/**
 * What workflow loading and precedence need to know about models. The real catalogue
 * (src/providers/catalogue.ts) implements it; tests pass a small table. Kept here so the
 * core does not depend on the providers part.
 */
export interface ModelCatalogue {
  /** Providers with credentials, in preference order (the first is the global fallback). */
  readonly providers: readonly ProviderId[];
  /** Models to offer for a provider in menus (callers offer only configured providers). */
  models(provider: ProviderId): readonly string[];
  /**
   * Every model known for a provider, configured or not. Workflow files are validated
   * against this, so a workflow naming google loads even without GEMINI_API_KEY; the
   * engine fails at run time with a clear message instead.
   */
  knownModels(provider: ProviderId): readonly string[];
  /** The provider's default model (the first of its list). */
  defaultModel(provider: ProviderId): string;
  /** True when `model` is a known model of `provider`. */
  has(provider: ProviderId, model: string): boolean;
  /** The provider whose known models include `model`, if exactly one does. */
  inferProvider(model: string): ProviderId | undefined;
}
