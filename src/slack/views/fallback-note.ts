import { CIRCUIT_OPEN, kindWords } from '../../core/error-kinds.js';

/**
 * The line a step card shows under its answer when the chain moved on: which provider
 * answered and why the ones before it did not, computed from the step's StepAttempt rows.
 *
 *   anthropic/claude-haiku-4-5: billing (quota) → answered by openai/gpt-4o-mini
 *   openai/gpt-4o: rate limited (rate_limit) ×3 → google/gemini-2.5-flash: skipped (circuit open) → answered by …
 *
 * Pure: no I/O, no clock. Provider and model ids are ours (from the catalogue), the rest is
 * fixed words, so the text is safe to put in mrkdwn as it is.
 */

/** The StepAttempt columns the note reads (a Prisma row fits). */
export interface AttemptFacts {
  number: number;
  provider: string;
  model: string;
  outcome: 'success' | 'error' | 'skipped';
  errorKind: string | null;
  startedAt?: Date | undefined;
}

/**
 * The note for one step, or null when there is nothing to explain (the first call answered,
 * or no attempts). Pass `since` (the step's `startedAt`) to describe only its latest
 * execution; by default every attempt of the step is described, oldest first.
 */
export function fallbackNote(
  attempts: readonly AttemptFacts[],
  options: { since?: Date | null | undefined } = {},
): string | null {
  const since = options.since?.getTime();
  const rows = attempts
    .filter((a) => since === undefined || !a.startedAt || a.startedAt.getTime() >= since)
    .slice()
    .sort((a, b) => a.number - b.number);
  if (!rows.some((a) => a.outcome !== 'success')) return null;

  const parts: string[] = [];
  // Consecutive rows for one provider/model form one segment.
  let i = 0;
  while (i < rows.length) {
    const ref = `${rows[i]!.provider}/${rows[i]!.model}`;
    const failures: string[] = [];
    let answered = false;
    while (i < rows.length && `${rows[i]!.provider}/${rows[i]!.model}` === ref) {
      const row = rows[i]!;
      if (row.outcome === 'success') answered = true;
      else failures.push(row.outcome === 'skipped' ? CIRCUIT_OPEN : (row.errorKind ?? 'unknown'));
      i += 1;
    }
    if (failures.length > 0) parts.push(`${ref}: ${describeFailures(failures)}`);
    if (answered) parts.push(`answered by ${ref}`);
  }
  return parts.join(' → ');
}

/** "rate limited (rate_limit) ×2, server error (server)": each kind once, in order, counted. */
function describeFailures(kinds: string[]): string {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return [...counts]
    .map(([kind, n]) => {
      const words = kind === CIRCUIT_OPEN ? kindWords(kind) : `${kindWords(kind)} (${kind})`;
      return n > 1 ? `${words} ×${n}` : words;
    })
    .join(', ');
}
