import { ERROR_WORDS, PAUSE_WORDS, toErrorKind, toPauseKind } from '../../core/error-kinds.js';
import { PROVIDER_IDS, providerKeyVariable, providerLabel as tableLabel } from '../../providers/table.js';
import type { ProviderMenu } from './model.js';

/**
 * Provider failures in plain words for cards, alerts and App Home: a one-line headline and
 * what it means / what to do, from the one table of words per kind (src/core/error-kinds.ts).
 * No secret is ever shown; for a rejected key we name the variable to fix, never its value.
 */

/** Human name of a provider: the menu's label, else the provider table's, else the id itself. */
export function providerLabel(providerId: string, providers: readonly ProviderMenu[] = []): string {
  return providers.find((p) => p.id === providerId)?.label ?? tableLabel(providerId);
}

/**
 * `describeError('quota', 'Anthropic')` → "Anthropic: credit balance too low — billing".
 * Plain text (not escaped): callers escape it for mrkdwn.
 */
export function describeError(kind: string, label: string, providerId?: string): string {
  const pause = toPauseKind(kind);
  if (pause) return PAUSE_WORDS[pause].headline;
  const k = toErrorKind(kind);
  const headline = `${label}: ${ERROR_WORDS[k].headline}`;
  return k === 'auth' ? `${headline} — check ${keyVariable(label, providerId)}` : headline;
}

/** What the failure means and what to do next, one or two short sentences. Plain text. */
export function errorAdvice(kind: string, label: string, providerId?: string): string {
  const pause = toPauseKind(kind);
  if (pause) return PAUSE_WORDS[pause].advice;
  return ERROR_WORDS[toErrorKind(kind)].advice(label, keyVariable(label, providerId));
}

/** The key variable of a provider known by id, or by a label the table has. */
function keyVariable(label: string, providerId?: string): string {
  return providerKeyVariable(providerId ?? idOfLabel(label));
}

function idOfLabel(label: string): string {
  const lower = label.toLowerCase();
  return PROVIDER_IDS.find((id) => id === lower || tableLabel(id) === label) ?? label;
}
