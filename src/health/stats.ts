import type { RunStore } from '../db/run-store.js';
import { type CircuitSnapshot, counts } from './breaker.js';

/**
 * Rolling health figures per provider/model (or per provider), computed from StepAttempt:
 * the StepAttempt table is shared by every replica, so every replica shows the same table.
 */

export interface HealthWindow {
  /** Count only the last N calls per provider/model (default 20). */
  attempts?: number | undefined;
  /** Count only calls that finished this recently (default one hour). */
  sinceMs?: number | undefined;
}

export interface HealthRow {
  provider: string;
  /** Null when the figures are for the whole provider. */
  model: string | null;
  /** Calls counted (successes and counted failures; see COUNTED_FAILURE_KINDS). */
  calls: number;
  successes: number;
  failures: number;
  /** successes / calls, or null with no calls. */
  successRate: number | null;
  /** The failure kind seen most among the counted calls (ties: the latest). */
  mainFailureKind: string | null;
  lastErrorKind: string | null;
  lastErrorAt: Date | null;
  lastSuccessAt: Date | null;
  /** Median latency of the successful calls, in ms. */
  medianLatencyMs: number | null;
  /** The circuit breaker's view, when a monitor added it. */
  circuit?: CircuitSnapshot | undefined;
}

/** The StepAttempt columns the figures read. */
export interface AttemptSample {
  provider: string;
  model: string;
  outcome: 'success' | 'error' | 'skipped';
  errorKind: string | null;
  latencyMs: number;
  finishedAt: Date;
}

export const DEFAULT_WINDOW = { attempts: 20, sinceMs: 60 * 60 * 1000 } as const;
/** A bound on what one health query reads, however busy the window was. */
const MAX_ROWS = 20_000;

/** Health per provider/model (or per provider) over a window of recent calls. */
export async function providerHealth(
  calls: Pick<RunStore, 'recentCalls'>,
  options: { window?: HealthWindow; groupBy?: 'model' | 'provider'; now?: Date } = {},
): Promise<HealthRow[]> {
  const sinceMs = options.window?.sinceMs ?? DEFAULT_WINDOW.sinceMs;
  const now = options.now ?? new Date();
  const samples = await calls.recentCalls(new Date(now.getTime() - sinceMs), MAX_ROWS);
  return summarise(samples, { attempts: options.window?.attempts, groupBy: options.groupBy });
}

/** The row of a provider (or provider/model) with no recent calls. */
export function quietRow(provider: string, model: string | null = null): HealthRow {
  return {
    provider,
    model,
    calls: 0,
    successes: 0,
    failures: 0,
    successRate: null,
    mainFailureKind: null,
    lastErrorKind: null,
    lastErrorAt: null,
    lastSuccessAt: null,
    medianLatencyMs: null,
  };
}

/** Pure: the figures for a set of calls. Rows come sorted by provider, then model. */
export function summarise(
  samples: readonly AttemptSample[],
  options: { attempts?: number | undefined; groupBy?: 'model' | 'provider' | undefined } = {},
): HealthRow[] {
  const limit = options.attempts ?? DEFAULT_WINDOW.attempts;
  const byKey = new Map<string, AttemptSample[]>();
  const newestFirst = [...samples].sort((a, b) => b.finishedAt.getTime() - a.finishedAt.getTime());
  for (const sample of newestFirst) {
    // Breaker skips were not calls; prompt-caused failures say nothing about the provider.
    if (sample.outcome === 'skipped' || counts(sample.outcome, sample.errorKind) === null) continue;
    const key = options.groupBy === 'provider' ? sample.provider : `${sample.provider}/${sample.model}`;
    const list = byKey.get(key) ?? [];
    if (list.length < limit) list.push(sample);
    byKey.set(key, list);
  }
  return [...byKey.values()]
    .map((list) => row(list, options.groupBy === 'provider'))
    .sort((a, b) => a.provider.localeCompare(b.provider) || (a.model ?? '').localeCompare(b.model ?? ''));
}

function row(newestFirst: AttemptSample[], byProvider: boolean): HealthRow {
  const first = newestFirst[0]!;
  const ok = newestFirst.filter((s) => s.outcome === 'success');
  const failed = newestFirst.filter((s) => s.outcome !== 'success');
  const tally = new Map<string, number>();
  for (const s of failed) {
    const kind = s.errorKind ?? 'unknown';
    tally.set(kind, (tally.get(kind) ?? 0) + 1);
  }
  // Most frequent; among equals, the latest (failed is newest first, so the first seen).
  let mainFailureKind: string | null = null;
  for (const s of failed) {
    const kind = s.errorKind ?? 'unknown';
    if (mainFailureKind === null || tally.get(kind)! > tally.get(mainFailureKind)!) mainFailureKind = kind;
  }
  return {
    provider: first.provider,
    model: byProvider ? null : first.model,
    calls: newestFirst.length,
    successes: ok.length,
    failures: failed.length,
    successRate: newestFirst.length === 0 ? null : ok.length / newestFirst.length,
    mainFailureKind,
    lastErrorKind: failed[0]?.errorKind ?? (failed[0] ? 'unknown' : null),
    lastErrorAt: failed[0]?.finishedAt ?? null,
    lastSuccessAt: ok[0]?.finishedAt ?? null,
    medianLatencyMs: median(ok.map((s) => s.latencyMs)),
  };
}

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : Math.round((sorted[mid - 1]! + sorted[mid]!) / 2);
}
