import { type ErrorKind, RETRYABLE_KINDS } from '../core/error-kinds.js';
import type { ModelRef, RetryPolicy } from '../core/workflow-definition.js';

/** A retry policy with every field decided. */
export interface ResolvedRetryPolicy {
  /** Calls per provider/model before moving to the next fallback. */
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
  /** 0 = none, 1 = full jitter: the delay is drawn from [delay × (1 − jitter), delay]. */
  jitter: number;
  /** A single wait longer than this (e.g. a Retry-After of an hour) moves on instead of waiting. */
  maxWaitMs: number;
  /**
   * The whole step's budget, from when this execution of it began: no provider call starts
   * after it, and a wait that would end after it is not taken.
   */
  deadlineMs: number;
}

export const DEFAULT_JITTER = 0.5;
export const DEFAULT_DEADLINE_MS = 600_000;

/** The global retry settings (config); jitter and deadline are global only. */
export interface GlobalRetrySettings {
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
  jitter?: number | undefined;
  deadlineMs?: number | undefined;
}

/** Step policy fields win over the workflow's, which win over the global default. */
export function resolveRetryPolicy(
  global: GlobalRetrySettings,
  workflow?: RetryPolicy | null,
  step?: RetryPolicy | null,
): ResolvedRetryPolicy {
  const pick = <K extends keyof RetryPolicy>(key: K, fallback: number): number =>
    step?.[key] ?? workflow?.[key] ?? fallback;
  const maxMs = pick('maxMs', global.maxMs);
  return {
    maxAttempts: Math.max(1, pick('maxAttempts', global.maxAttempts)),
    baseMs: pick('baseMs', global.baseMs),
    maxMs,
    jitter: Math.min(1, Math.max(0, global.jitter ?? DEFAULT_JITTER)),
    // A provider asking for more than a few backoff caps is better served by a fallback.
    maxWaitMs: Math.max(maxMs * 4, 60_000),
    deadlineMs: global.deadlineMs ?? DEFAULT_DEADLINE_MS,
  };
}

export function isRetryable(kind: ErrorKind): boolean {
  return RETRYABLE_KINDS.has(kind);
}

/**
 * How long to wait before call number `failedAttempts + 1`: exponential from baseMs,
 * capped at maxMs, with jitter so a crowd of runs does not retry in lock-step — but never
 * sooner than the provider asked (Retry-After / retry-after-ms / Gemini RetryInfo).
 */
export function backoffDelay(
  failedAttempts: number,
  policy: ResolvedRetryPolicy,
  retryAfterMs?: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, failedAttempts - 1));
  const jittered = Math.round(exponential * (1 - policy.jitter * random()));
  return retryAfterMs !== undefined && retryAfterMs > jittered ? retryAfterMs : jittered;
}

/** The ordered candidates for a step: the resolved choice, then fallbacks, without repeats. */
export function candidateChain(primary: ModelRef, ...fallbackLists: ModelRef[][]): ModelRef[] {
  const seen = new Set<string>();
  const chain: ModelRef[] = [];
  for (const ref of [primary, ...fallbackLists.flat()]) {
    const key = `${ref.provider}/${ref.model}`;
    if (seen.has(key)) continue;
    seen.add(key);
    chain.push(ref);
  }
  return chain;
}
