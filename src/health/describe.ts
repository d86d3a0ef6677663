import { kindWords } from '../core/error-kinds.js';
import type { ModelRef } from '../core/workflow-definition.js';
import type { HealthRow } from './stats.js';

/**
 * Health in words for people (menus, alerts, `/workflow health`) and a ranking for
 * "Retry with …" buttons. Pure: rows in, text out; `now` is passed in when a relative time
 * is wanted. Provider/model ids and fixed words only, so the text is mrkdwn-safe as is.
 */

export type HealthStatus = 'healthy' | 'unknown' | 'degraded' | 'down';

/** Below this success rate a provider/model is shown as degraded. */
export const DEGRADED_BELOW = 0.8;

export function healthStatus(row: HealthRow | undefined): HealthStatus {
  if (!row) return 'unknown';
  if (row.circuit?.state === 'open') return 'down';
  if (row.circuit?.state === 'half_open') return 'degraded';
  if (row.calls === 0 || row.successRate === null) return 'unknown';
  if (row.successes === 0 && row.calls >= 3) return 'down';
  return row.successRate < DEGRADED_BELOW ? 'degraded' : 'healthy';
}

// Down and degraded share the warning sign; the words (and "circuit open") tell them apart.
const ICONS: Record<HealthStatus, string> = { healthy: '✓', unknown: '·', degraded: '⚠', down: '⚠' };

export function healthLabel(row: Pick<HealthRow, 'provider' | 'model'>): string {
  return row.model ? `${row.provider}/${row.model}` : row.provider;
}

/**
 * One line per provider/model:
 *   ⚠ anthropic — 5 of last 6 failed: rate limited
 *   ⚠ anthropic/claude-haiku-4-5 — 6 of last 6 failed: billing · circuit open, next try in 25 s
 *   ✓ openai/gpt-4o-mini — 6 of last 6 succeeded · median 1.2 s
 *   · google/gemini-2.5-flash — no recent calls
 */
export function describeHealth(row: HealthRow, options: { now?: Date } = {}): string {
  const status = healthStatus(row);
  const head = `${ICONS[status]} ${healthLabel(row)} — `;
  if (row.calls === 0) return `${head}no recent calls${circuitText(row, options.now)}`;
  const figures =
    row.failures === 0
      ? `${row.successes} of last ${row.calls} succeeded`
      : `${row.failures} of last ${row.calls} failed: ${kindWords(row.mainFailureKind)}`;
  const latency =
    status === 'healthy' && row.medianLatencyMs !== null ? ` · median ${seconds(row.medianLatencyMs)}` : '';
  return `${head}${figures}${latency}${circuitText(row, options.now)}`;
}

/** A couple of words beside a provider in a menu, or null when there is nothing to say. */
export function shortHealth(row: HealthRow | undefined): string | null {
  const status = healthStatus(row);
  if (!row || status === 'healthy' || status === 'unknown') return null;
  const what = row.mainFailureKind ? `: ${kindWords(row.mainFailureKind)}` : '';
  return `${status === 'down' ? 'down' : 'degraded'}${what}`;
}

function circuitText(row: HealthRow, now: Date | undefined): string {
  const circuit = row.circuit;
  if (!circuit || circuit.state === 'closed') return '';
  if (circuit.state === 'half_open') return ' · circuit half-open, probing';
  if (!now || !circuit.probeAt) return ' · circuit open';
  const wait = Math.max(0, circuit.probeAt.getTime() - now.getTime());
  return ` · circuit open, next try in ${seconds(wait, true)}`;
}

function seconds(ms: number, whole = false): string {
  if (ms < 1000 && !whole) return `${ms} ms`;
  const s = ms / 1000;
  if (s >= 90) return `${Math.round(s / 60)} min`;
  return whole || s >= 10 ? `${Math.ceil(s)} s` : `${s.toFixed(1)} s`;
}

/** The figures that apply to a provider/model: its own row, else its provider's row. */
export function rowFor(ref: ModelRef, rows: readonly HealthRow[]): HealthRow | undefined {
  return (
    rows.find((r) => r.provider === ref.provider && r.model === ref.model) ??
    rows.find((r) => r.provider === ref.provider && r.model === null)
  );
}

export interface RankedAlternative {
  ref: ModelRef;
  status: HealthStatus;
  row: HealthRow | undefined;
  /** describeHealth of its row, or null without figures. */
  text: string | null;
}

const STATUS_ORDER: Record<HealthStatus, number> = { healthy: 0, unknown: 1, degraded: 2, down: 3 };

/**
 * Orders "Retry with …" choices healthiest first: healthy, then untried, then degraded,
 * then down (open circuit); within a group the higher success rate, then the faster
 * median, then the order given (the caller's own preference) wins.
 */
export function rankAlternatives(
  refs: readonly ModelRef[],
  rows: readonly HealthRow[],
  options: { now?: Date } = {},
): RankedAlternative[] {
  return refs
    .map((ref, index) => {
      const row = rowFor(ref, rows);
      const status = healthStatus(row);
      return { ref, status, row, text: row ? describeHealth(row, options) : null, index };
    })
    .sort(
      (a, b) =>
        STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
        (b.row?.successRate ?? 1) - (a.row?.successRate ?? 1) ||
        (a.row?.medianLatencyMs ?? Number.MAX_SAFE_INTEGER) -
          (b.row?.medianLatencyMs ?? Number.MAX_SAFE_INTEGER) ||
        a.index - b.index,
    )
    .map(({ index: _index, ...rest }) => rest);
}
