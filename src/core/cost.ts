import type { ModelRef, Usage } from './provider-spec.js';

/**
 * Money, in one place: what a model costs per token, what a call cost, the worst a call can
 * cost before it is made (docs/control.md, "Budgets"), and totals that keep calls without a
 * known price apart, so an unknown price is shown as unknown and never as zero.
 * Amounts are US dollars as doubles; their rounding error is far below a cent.
 */

/** USD per million tokens, as providers publish them. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
}

/** The price list (src/providers/prices.ts): built-in prices, overridden by PRICES_FILE and MODEL_PRICES. */
export interface PriceList {
  /** The price of a model, or undefined when nobody said. */
  price(ref: ModelRef): ModelPrice | undefined;
}

const PER_MILLION = 1_000_000;

/** What a call with this usage cost; null when the price is unknown. */
export function callCost(usage: Usage, price: ModelPrice | undefined): number | null {
  if (!price) return null;
  return (usage.inputTokens * price.inputPerMTok + usage.outputTokens * price.outputPerMTok) / PER_MILLION;
}

/**
 * Tokens a call's messages can be at most, without a tokenizer: every token of the
 * providers' tokenizers (BPE over bytes, SentencePiece with byte fallback) covers at least
 * one byte of text, so the UTF-8 length bounds the count; MESSAGE_OVERHEAD_TOKENS covers the
 * role and separator tokens the chat formats add around the system prompt and the prompt.
 */
export const MESSAGE_OVERHEAD_TOKENS = 32;

export function promptTokenBound(texts: readonly (string | undefined)[]): number {
  let bytes = 0;
  for (const text of texts) if (text) bytes += Buffer.byteLength(text, 'utf8');
  return bytes + MESSAGE_OVERHEAD_TOKENS;
}

/** The most a call can cost: every prompt token, and every output token the call may produce. */
export function worstCaseCost(promptTokens: number, maxOutputTokens: number, price: ModelPrice): number {
  return callCost({ inputTokens: promptTokens, outputTokens: maxOutputTokens }, price)!;
}

/** A sum of call costs: the known part, and how many calls had no price. */
export interface CostTotal {
  usd: number;
  /** Calls whose price was unknown: the total is then a lower bound. */
  unpriced: number;
}

export const NO_COST: CostTotal = { usd: 0, unpriced: 0 };

export function addCost(total: CostTotal, cost: number | null | undefined): CostTotal {
  return cost === null || cost === undefined
    ? { usd: total.usd, unpriced: total.unpriced + 1 }
    : { usd: total.usd + cost, unpriced: total.unpriced };
}

export function sumCosts(totals: readonly CostTotal[]): CostTotal {
  return totals.reduce((a, b) => ({ usd: a.usd + b.usd, unpriced: a.unpriced + b.unpriced }), NO_COST);
}

/** "$0.0021", "$0.0113", "$0.50", "$1.23": up to four decimals under a dollar (at least two), else two. */
export function formatUsd(usd: number): string {
  if (Math.abs(usd) >= 1) return `$${usd.toFixed(2)}`;
  const text = usd.toFixed(4).replace(/0{1,2}$/, '');
  return `$${text}`;
}

/** "$0.0042", "cost unknown", or "$0.0042 + unknown" when some calls had no price. */
export function formatCost(total: CostTotal): string {
  if (total.unpriced === 0) return formatUsd(total.usd);
  if (total.usd === 0) return 'cost unknown';
  return `${formatUsd(total.usd)} + unknown`;
}
