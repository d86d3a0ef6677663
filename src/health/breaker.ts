import { type Clock, nowMs, systemClock } from '../core/clock.js';
/**
 * A circuit breaker per provider/model: closed → open after `failureThreshold` counted
 * failures among the last `window` calls (none older than `windowMs`); open → half-open
 * after `cooldownMs`, when exactly one call (the probe) is let through; the probe's
 * success closes the circuit, its failure opens it for another cooldown.
 *
 * Pure state with an injected clock: no timers, no I/O. Outcomes may arrive out of order
 * and more than once (the engine's events and the StepAttempt table both feed it), so each
 * carries its attempt id and its own time.
 */

export interface BreakerSettings {
  failureThreshold: number;
  window: number;
  windowMs: number;
  cooldownMs: number;
}

export type CircuitState = 'closed' | 'open' | 'half_open';

/** What one finished call says about a provider/model. */
export interface CallOutcome {
  /** StepAttempt id; repeats are ignored. */
  id?: string | undefined;
  /** When the call finished (epoch ms). */
  at: number;
  outcome: 'success' | 'error';
  errorKind: string | null;
}

export interface CircuitSnapshot {
  state: CircuitState;
  /** Counted failures among the calls in the window. */
  failures: number;
  /** Calls in the window (counted failures and successes). */
  calls: number;
  /** The failure kind seen most in the window (ties: the latest). */
  mainFailureKind: string | null;
  /** When the circuit opened (open or half-open). */
  openedAt: Date | null;
  /** When an open circuit lets a probe through. */
  probeAt: Date | null;
}

/**
 * Failures that say the provider cannot serve us now: outages and throttling (the retryable
 * kinds), billing and keys (nothing works until someone pays or fixes the key, so skipping
 * it is right), and unexplained failures. Failures caused by the prompt itself — too long,
 * refused, filtered — say nothing about the provider and are not counted either way.
 */
export const COUNTED_FAILURE_KINDS: ReadonlySet<string> = new Set([
  'rate_limit',
  'overloaded',
  'server',
  'timeout',
  'network',
  'quota',
  'auth',
  'unknown',
]);

export function counts(
  outcome: CallOutcome['outcome'],
  errorKind: string | null,
): 'success' | 'failure' | null {
  if (outcome === 'success') return 'success';
  return errorKind !== null && !COUNTED_FAILURE_KINDS.has(errorKind) ? null : 'failure';
}

interface Circuit {
  /** Counted outcomes in time order, at most `window` of them. */
  recent: { id: string | undefined; at: number; failed: boolean; kind: string | null }[];
  openedAt: number | undefined;
  /** When the half-open probe was handed out (it expires after a cooldown if never reported). */
  probeAt: number | undefined;
  /** Outcomes from before the last verdict (open or close) are old news. */
  since: number;
}

export class CircuitBreaker {
  private readonly circuits = new Map<string, Circuit>();

  constructor(
    readonly settings: BreakerSettings,
    private readonly clock: Pick<Clock, 'now'> = systemClock,
  ) {}

  static key(ref: { provider: string; model: string }): string {
    return `${ref.provider}/${ref.model}`;
  }

  /** May this provider/model be called now? In half-open, says yes once (the probe). */
  allow(key: string): boolean {
    const circuit = this.circuits.get(key);
    if (!circuit || circuit.openedAt === undefined) return true;
    const now = nowMs(this.clock);
    if (now < circuit.openedAt + this.settings.cooldownMs) return false;
    if (circuit.probeAt !== undefined && now < circuit.probeAt + this.settings.cooldownMs) return false;
    circuit.probeAt = now;
    return true;
  }

  record(key: string, outcome: CallOutcome): void {
    const verdict = counts(outcome.outcome, outcome.errorKind);
    const circuit = this.circuit(key);
    if (verdict === null) {
      // The probe reached the provider but proves nothing: let the next call probe.
      if (circuit.probeAt !== undefined) circuit.probeAt = undefined;
      return;
    }
    if (outcome.at < circuit.since) return;
    if (outcome.id !== undefined && circuit.recent.some((r) => r.id === outcome.id)) return;
    const now = nowMs(this.clock);
    if (circuit.openedAt !== undefined) {
      if (verdict === 'success') {
        this.close(circuit, outcome.at);
      } else if (circuit.probeAt !== undefined) {
        // The probe failed: another full cooldown.
        circuit.openedAt = now;
        circuit.probeAt = undefined;
        circuit.since = outcome.at;
        this.push(circuit, outcome, true);
      }
      return;
    }
    this.push(circuit, outcome, verdict === 'failure');
    const counted = this.inWindow(circuit, now);
    const failures = counted.filter((r) => r.failed).length;
    if (failures >= this.settings.failureThreshold) {
      // Timed from the failure that tripped it, so a replica seeded later agrees on when
      // the cooldown ends.
      circuit.openedAt = Math.min(now, Math.max(outcome.at, counted.at(-1)?.at ?? outcome.at));
      circuit.probeAt = undefined;
      circuit.since = circuit.openedAt;
    }
  }

  snapshot(key: string): CircuitSnapshot {
    const circuit = this.circuits.get(key);
    const now = nowMs(this.clock);
    if (!circuit) {
      return { state: 'closed', failures: 0, calls: 0, mainFailureKind: null, openedAt: null, probeAt: null };
    }
    const counted = this.inWindow(circuit, now);
    const failed = counted.filter((r) => r.failed);
    const open = circuit.openedAt !== undefined;
    const probeAt = open ? circuit.openedAt! + this.settings.cooldownMs : undefined;
    return {
      state: !open ? 'closed' : now < probeAt! ? 'open' : 'half_open',
      failures: failed.length,
      calls: counted.length,
      mainFailureKind: mainKind(failed),
      openedAt: open ? new Date(circuit.openedAt!) : null,
      probeAt: probeAt === undefined ? null : new Date(probeAt),
    };
  }

  /** Every provider/model the breaker has heard of. */
  keys(): string[] {
    return [...this.circuits.keys()];
  }

  private circuit(key: string): Circuit {
    let circuit = this.circuits.get(key);
    if (!circuit) {
      circuit = { recent: [], openedAt: undefined, probeAt: undefined, since: 0 };
      this.circuits.set(key, circuit);
    }
    return circuit;
  }

  private close(circuit: Circuit, at: number) {
    circuit.openedAt = undefined;
    circuit.probeAt = undefined;
    circuit.since = at;
    circuit.recent = circuit.recent.filter((r) => r.at >= at);
  }

  private push(circuit: Circuit, outcome: CallOutcome, failed: boolean) {
    const entry = { id: outcome.id, at: outcome.at, failed, kind: failed ? outcome.errorKind : null };
    let i = circuit.recent.length;
    while (i > 0 && circuit.recent[i - 1]!.at > entry.at) i -= 1;
    circuit.recent.splice(i, 0, entry);
    if (circuit.recent.length > this.settings.window) {
      circuit.recent.splice(0, circuit.recent.length - this.settings.window);
    }
  }

  private inWindow(circuit: Circuit, now: number) {
    return circuit.recent.filter((r) => r.at >= now - this.settings.windowMs);
  }
}

function mainKind(failed: { kind: string | null }[]): string | null {
  const tally = new Map<string, number>();
  let best: string | null = null;
  for (const { kind } of failed) {
    const k = kind ?? 'unknown';
    const n = (tally.get(k) ?? 0) + 1;
    tally.set(k, n);
    if (best === null || n >= (tally.get(best) ?? 0)) best = k;
  }
  return best;
}
