/**
 * The normalised failure kinds of a provider call (docs/providers.md, "Error kinds"), and
 * the words every surface uses for them: the card, the alert, App Home, `/workflow health`,
 * the health figures and the "why it moved on" note. One table, so a kind reads the same
 * everywhere.
 */

export const ERROR_KINDS = [
  'rate_limit',
  'quota',
  'auth',
  'overloaded',
  'server',
  'timeout',
  'network',
  'invalid_request',
  'context_length',
  'content_filter',
  'unknown',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

/** Kinds that can succeed when the same call is made again later. */
export const RETRYABLE_KINDS: ReadonlySet<ErrorKind> = new Set([
  'rate_limit',
  'overloaded',
  'server',
  'timeout',
  'network',
]);

/** A provider/model the engine did not call because its circuit was open (an attempt, not an error). */
export const CIRCUIT_OPEN = 'circuit_open';

interface KindWords {
  /** A few words, as a person would say it: notes and health lines ("5 of last 6 failed: billing"). */
  short: string;
  /** The headline after the provider's name on a card or alert ("Anthropic: credit balance too low — billing"). */
  headline: string;
  /** What it means and what to do next: `label` is the provider's name, `key` the variable of its key. */
  advice: (label: string, key: string) => string;
}

export const ERROR_WORDS: Readonly<Record<ErrorKind, KindWords>> = {
  rate_limit: {
    short: 'rate limited',
    headline: 'rate limited',
    advice: (label) =>
      `${label} is refusing requests for now because of its rate limits. Retry in a minute, or switch the step to another provider.`,
  },
  quota: {
    short: 'billing',
    headline: 'credit balance too low — billing',
    advice: (label) =>
      `The ${label} account is out of credit or over its spending limit. Add credit in its billing console, or switch the step to another provider.`,
  },
  auth: {
    short: 'API key rejected',
    headline: 'API key rejected',
    advice: (label, key) =>
      `${label} did not accept the API key (missing, wrong or revoked). Fix ${key} and restart Switchboard, or switch the step to another provider.`,
  },
  overloaded: {
    short: 'overloaded',
    headline: 'overloaded',
    advice: (label) =>
      `${label} is over capacity right now. Retry shortly, or switch the step to another provider.`,
  },
  server: {
    short: 'server error',
    headline: 'server error',
    advice: (label) =>
      `${label} had an internal error. Retry; if it keeps failing, switch the step to another provider.`,
  },
  timeout: {
    short: 'timed out',
    headline: 'timed out',
    advice: (label) => `${label} did not answer within the step's timeout. Retry, or pick a faster model.`,
  },
  network: {
    short: 'unreachable',
    headline: 'network unreachable',
    advice: (label) =>
      `Switchboard could not reach ${label} (DNS, proxy, firewall or base URL). Check the connection, then Retry.`,
  },
  invalid_request: {
    short: 'request refused',
    headline: 'request rejected',
    advice: (label) =>
      `${label} refused the request as invalid, often an unknown model name or parameter. Pick another model, then Retry.`,
  },
  context_length: {
    short: 'prompt too long',
    headline: 'prompt too long for the model',
    advice: () =>
      'The prompt and expected answer do not fit the model’s context window. Pick a model with a larger context, or shorten the input.',
  },
  content_filter: {
    short: 'content filtered',
    headline: 'blocked by content filter',
    advice: (label) =>
      `${label}'s safety filter blocked the prompt or the answer. Rephrase the input, or try another provider.`,
  },
  unknown: {
    short: 'failed',
    headline: 'failed with an unexpected error',
    advice: () => 'See the provider’s message below. Retry, or switch the step to another provider.',
  },
};

/** A stored kind as an ErrorKind; anything else is "unknown". */
export function toErrorKind(kind: string | null | undefined): ErrorKind {
  return (ERROR_KINDS as readonly string[]).includes(kind ?? '') ? (kind as ErrorKind) : 'unknown';
}

/** The short words for a stored kind, including a skip for an open circuit. */
export function kindWords(kind: string | null | undefined): string {
  if (kind === CIRCUIT_OPEN) return 'skipped (circuit open)';
  const pause = toPauseKind(kind);
  if (pause) return PAUSE_WORDS[pause].short;
  return ERROR_WORDS[toErrorKind(kind)].short;
}

/**
 * Why a step paused when no provider failed (docs/control.md): a person rejected its output,
 * or the next call could have crossed a budget. Stored in RunStep.lastErrorKind like a
 * provider's kind, with the details in lastErrorMessage; the same surfaces show them.
 */
export const PAUSE_KINDS = ['rejected', 'over_run_budget', 'over_daily_budget', 'unpriced_model'] as const;
export type PauseKind = (typeof PAUSE_KINDS)[number];

export const PAUSE_WORDS: Readonly<Record<PauseKind, { short: string; headline: string; advice: string }>> = {
  rejected: {
    short: 'rejected',
    headline: 'Output rejected',
    advice:
      'Switch the provider/model or persona below if that helps, then Retry: the new output waits for approval again.',
  },
  over_run_budget: {
    short: 'over its budget',
    headline: 'Paused before the next call: it could cross this run’s budget',
    advice: 'Retry with a cheaper model, or raise this run’s cap (workflow owners and admins).',
  },
  over_daily_budget: {
    short: 'over the daily budget',
    headline: 'Paused before the next call: it could cross a daily budget',
    advice:
      'Retry with a cheaper model, or wait until the daily cap resets at 00:00 UTC; the cap itself is in the workflow’s budget or BUDGET_DAILY_USD.',
  },
  unpriced_model: {
    short: 'no price known',
    headline: 'Paused: the model has no known price, so the budget cannot be checked',
    advice: 'Switch the step to a priced model, or add the model’s price to PRICES_FILE or MODEL_PRICES.',
  },
};

/** The pause kind of a stored kind, if it is one. */
export function toPauseKind(kind: string | null | undefined): PauseKind | undefined {
  return (PAUSE_KINDS as readonly string[]).includes(kind ?? '') ? (kind as PauseKind) : undefined;
}
