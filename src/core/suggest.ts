/**
 * "Did you mean …?" — one implementation for workflow names, run ids, subcommands, file
 * keys, time zones and schedules.
 *
 * Distance is Damerau–Levenshtein (optimal string alignment: insert, delete, substitute,
 * swap two neighbours), case-insensitive, so `relase-notes`, `Release-Notes` and
 * `rleease-notes` all find `release-notes`.
 */

/** Optimal-string-alignment distance between two strings. */
export function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  if (a.length === 0) return b.length;
  if (b.length === 0) return a.length;
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[] = new Array(rows * cols).fill(0);
  const at = (i: number, j: number) => d[i * cols + j]!;
  for (let i = 0; i < rows; i++) d[i * cols] = i;
  for (let j = 0; j < cols; j++) d[j] = j;
  for (let i = 1; i < rows; i++) {
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      d[i * cols + j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * Up to `max` candidates closest to `name`, best first. A candidate qualifies when it is
 * within a third of the typed length in edits (at least 1, at most 4), or when it starts
 * with what was typed (at least 3 characters: `release` → `release-notes`).
 */
export function suggest(name: string, candidates: readonly string[], max = 3): string[] {
  const typed = name.trim().toLowerCase();
  if (typed.length === 0) return [];
  const threshold = Math.min(4, Math.max(1, Math.floor(typed.length / 3)));
  const scored: { candidate: string; score: number }[] = [];
  for (const candidate of new Set(candidates)) {
    if (candidate === name.trim()) continue;
    const c = candidate.toLowerCase();
    const distance = editDistance(typed, c);
    if (distance <= threshold) scored.push({ candidate, score: distance });
    else if (typed.length >= 3 && c.startsWith(typed)) scored.push({ candidate, score: threshold + 0.5 });
  }
  scored.sort((x, y) => x.score - y.score || x.candidate.localeCompare(y.candidate));
  return scored.slice(0, max).map((s) => s.candidate);
}

/**
 * The one candidate nearest to a mistyped `word`, when it is close enough to be a typo
 * (within a third of its length in edits, at least 2). With `prefix`, a candidate that
 * starts with the word wins first ("timeout" → "timeout_seconds": a prefix is a likelier
 * slip than any edit distance shows).
 */
export function nearest(
  word: string,
  candidates: readonly string[],
  options: { prefix?: boolean } = {},
): string | undefined {
  const lower = word.toLowerCase();
  if (options.prefix && lower.length >= 4) {
    const prefixed = candidates.find((c) => c.toLowerCase().startsWith(lower));
    if (prefixed) return prefixed;
  }
  let best: string | undefined;
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}
