import type { ModelPrice, PriceList } from '../core/cost.js';
import type { ModelRef } from '../core/provider-spec.js';
import { type BuiltInProviderId, PROVIDER_TABLE } from './table.js';

/**
 * What the shipped models cost, in USD per million tokens (input / output), from each
 * provider's price page; every built-in model of the provider table has its price here
 * (test/providers/prices.test.ts checks it). Admins override or add prices with
 * PRICES_FILE and MODEL_PRICES (src/config.ts): a model with no price anywhere is shown
 * with an unknown cost, never as free.
 *
 * @see https://openai.com/api/pricing/
 * @see https://www.anthropic.com/pricing#api
 * @see https://ai.google.dev/gemini-api/docs/pricing (Gemini 2.5 Pro: prompts up to 200k tokens)
 */
export const BUILT_IN_PRICES = {
  openai: {
    'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 },
    'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 },
    'gpt-4.1': { inputPerMTok: 2, outputPerMTok: 8 },
    'gpt-4.1-mini': { inputPerMTok: 0.4, outputPerMTok: 1.6 },
    'o4-mini': { inputPerMTok: 1.1, outputPerMTok: 4.4 },
  },
  anthropic: {
    'claude-haiku-4-5': { inputPerMTok: 1, outputPerMTok: 5 },
    'claude-sonnet-4-5': { inputPerMTok: 3, outputPerMTok: 15 },
    'claude-opus-4-1': { inputPerMTok: 15, outputPerMTok: 75 },
  },
  google: {
    'gemini-2.5-flash': { inputPerMTok: 0.3, outputPerMTok: 2.5 },
    'gemini-2.5-pro': { inputPerMTok: 1.25, outputPerMTok: 10 },
    'gemini-2.5-flash-lite': { inputPerMTok: 0.1, outputPerMTok: 0.4 },
  },
} as const satisfies Record<BuiltInProviderId, Record<string, ModelPrice>>;

/** "provider/model" → price: the admin's overrides (PRICES_FILE, then MODEL_PRICES). */
export type PriceOverrides = Readonly<Record<string, ModelPrice>>;

const key = (ref: ModelRef) => `${ref.provider}/${ref.model}`;

/** The price list: an override first, then the built-in table. */
export function buildPriceList(overrides: PriceOverrides = {}): PriceList & {
  /** Every priced model, for listings. */
  entries(): [string, ModelPrice][];
} {
  const table = new Map<string, ModelPrice>();
  for (const [provider, models] of Object.entries(BUILT_IN_PRICES)) {
    for (const [model, price] of Object.entries(models)) table.set(`${provider}/${model}`, price);
  }
  for (const [ref, price] of Object.entries(overrides)) table.set(ref, price);
  return {
    price: (ref) => table.get(key(ref)),
    entries: () => [...table.entries()],
  };
}

/** Every built-in model of the provider table, as "provider/model" (for the completeness test). */
export function builtInModels(): string[] {
  return Object.entries(PROVIDER_TABLE).flatMap(([id, entry]) =>
    entry.defaultModels.map((m: string) => `${id}/${m}`),
  );
}
