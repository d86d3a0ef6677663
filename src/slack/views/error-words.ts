import type { ErrorKind } from '../../providers/provider.js';
import { ERROR_KINDS } from '../../providers/provider.js';
import type { ProviderMenu } from './model.js';

/**
 * Provider failures in plain words: a one-line headline for the card and the alert, and
 * what it means / what to do. Facts per kind: docs/providers.md. No secret is
 * ever shown; for auth we name the variable to fix, never its value.
 */

const KNOWN_LABELS: Record<string, string> = {
  openai: 'OpenAI',
  anthropic: 'Anthropic',
  google: 'Google Gemini',
};

const KEY_VARIABLES: Record<string, string> = {
  openai: 'OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  google: 'GEMINI_API_KEY',
};

/** Human name of a provider: the menu's label, else the built-in one, else the id itself. */
export function providerLabel(providerId: string, providers: readonly ProviderMenu[] = []): string {
  return providers.find((p) => p.id === providerId)?.label ?? KNOWN_LABELS[providerId] ?? providerId;
}

export function toErrorKind(kind: string | null | undefined): ErrorKind {
  return (ERROR_KINDS as readonly string[]).includes(kind ?? '') ? (kind as ErrorKind) : 'unknown';
}

function keyVariable(providerLabelOrId: string, providerId?: string): string {
  const id =
    providerId ??
    Object.keys(KNOWN_LABELS).find(
      (k) => k === providerLabelOrId.toLowerCase() || KNOWN_LABELS[k] === providerLabelOrId,
    );
  return (id && KEY_VARIABLES[id]) ?? 'the API key';
}

const HEADLINES: Record<ErrorKind, string> = {
  rate_limit: 'rate limited',
  quota: 'credit balance too low — billing',
  auth: 'API key rejected',
  overloaded: 'overloaded',
  server: 'server error',
  timeout: 'timed out',
  network: 'network unreachable',
  invalid_request: 'request rejected',
  context_length: 'prompt too long for the model',
  content_filter: 'blocked by content filter',
  unknown: 'failed with an unexpected error',
};

/**
 * `describeError('quota', 'Anthropic')` → "Anthropic: credit balance too low — billing".
 * Plain text (not escaped): callers escape it for mrkdwn.
 */
export function describeError(kind: string, providerLabel: string, providerId?: string): string {
  const k = toErrorKind(kind);
  const headline = HEADLINES[k];
  if (k === 'auth') return `${providerLabel}: ${headline} — check ${keyVariable(providerLabel, providerId)}`;
  return `${providerLabel}: ${headline}`;
}

/** What the failure means and what to do next, one or two short sentences. Plain text. */
export function errorAdvice(kind: string, providerLabel: string, providerId?: string): string {
  switch (toErrorKind(kind)) {
    case 'rate_limit':
      return `${providerLabel} is refusing requests for now because of its rate limits. Retry in a minute, or switch the step to another provider.`;
    case 'quota':
      return `The ${providerLabel} account is out of credit or over its spending limit. Add credit in its billing console, or switch the step to another provider.`;
    case 'auth':
      return `${providerLabel} did not accept the API key (missing, wrong or revoked). Fix ${keyVariable(providerLabel, providerId)} and restart Switchboard, or switch the step to another provider.`;
    case 'overloaded':
      return `${providerLabel} is over capacity right now. Retry shortly, or switch the step to another provider.`;
    case 'server':
      return `${providerLabel} had an internal error. Retry; if it keeps failing, switch the step to another provider.`;
    case 'timeout':
      return `${providerLabel} did not answer within the step's timeout. Retry, or pick a faster model.`;
    case 'network':
      return `Switchboard could not reach ${providerLabel} (DNS, proxy, firewall or base URL). Check the connection, then Retry.`;
    case 'invalid_request':
      return `${providerLabel} refused the request as invalid, often an unknown model name or parameter. Pick another model, then Retry.`;
    case 'context_length':
      return 'The prompt and expected answer do not fit the model’s context window. Pick a model with a larger context, or shorten the input.';
    case 'content_filter':
      return `${providerLabel}'s safety filter blocked the prompt or the answer. Rephrase the input, or try another provider.`;
    case 'unknown':
      return 'See the provider’s message below. Retry, or switch the step to another provider.';
  }
}
