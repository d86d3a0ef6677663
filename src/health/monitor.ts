import { type Clock, systemClock } from '../core/clock.js';
import { kindWords } from '../core/error-kinds.js';
import type { EngineEventBus } from '../core/events.js';
import type { HealthGate } from '../core/ports.js';
import type { ModelRef } from '../core/workflow-definition.js';
import type { RunStore } from '../db/run-store.js';
import type { Logger } from '../logging.js';
import { type BreakerSettings, CircuitBreaker, type CircuitSnapshot } from './breaker.js';
import { shortHealth } from './describe.js';
import { type HealthRow, type HealthWindow, providerHealth, quietRow } from './stats.js';

export interface HealthMonitorOptions {
  calls: Pick<RunStore, 'recentCalls'>;
  settings: BreakerSettings;
  /** Injected for tests; defaults to the system clock. */
  clock?: Pick<Clock, 'now'>;
  /** How often to fold in other replicas' calls from StepAttempt (0: only at start). */
  syncMs?: number;
  /** How often the words beside providers in menus are refreshed (0: only at start). */
  wordsMs?: number;
  logger?: Logger;
}

/**
 * Provider health for one process: the engine's HealthGate (circuit breakers fed by the
 * engine's 'attempt.recorded' events) and the figures people see. On start, and every
 * `syncMs` after, it reads the recent StepAttempt rows, so replicas learn from each other's
 * calls and converge on the same circuits; attempt ids keep a call from counting twice.
 */
export class HealthMonitor implements HealthGate, ProviderHealth {
  readonly breaker: CircuitBreaker;
  private timer: NodeJS.Timeout | undefined;
  private readonly menuWords = new MenuWords(() => this.table({ groupBy: 'provider' }));
  private readonly now: () => Date;

  constructor(private readonly o: HealthMonitorOptions) {
    const clock = o.clock ?? systemClock;
    this.now = () => clock.now();
    this.breaker = new CircuitBreaker(o.settings, clock);
  }

  allow(ref: ModelRef): boolean {
    return this.breaker.allow(CircuitBreaker.key(ref));
  }

  isOpen(ref: ModelRef): boolean {
    return this.breaker.snapshot(CircuitBreaker.key(ref)).state === 'open';
  }

  reason(ref: ModelRef): string | undefined {
    const c = this.breaker.snapshot(CircuitBreaker.key(ref));
    if (c.state === 'closed') return undefined;
    const figures =
      c.calls > 0 ? `${c.failures} of last ${c.calls} failed: ${kindWords(c.mainFailureKind)}` : '';
    return figures ? `circuit open (${figures})` : 'circuit open';
  }

  circuit(ref: ModelRef): CircuitSnapshot {
    return this.breaker.snapshot(CircuitBreaker.key(ref));
  }

  listen(events: EngineEventBus): void {
    events.on('attempt.recorded', (a) => {
      this.breaker.record(CircuitBreaker.key(a), {
        id: a.attemptId,
        at: a.finishedAt.getTime(),
        outcome: a.outcome,
        errorKind: a.errorKind,
      });
    });
  }

  async start(): Promise<void> {
    await this.sync();
    await this.menuWords.start(this.o.wordsMs ?? WORDS_REFRESH_MS, this.o.logger);
    const every = this.o.syncMs ?? 10_000;
    if (every > 0 && !this.timer) {
      this.timer = setInterval(() => {
        this.sync().catch((error: unknown) =>
          this.o.logger?.warn({ err: (error as Error).message }, 'provider health sync failed'),
        );
      }, every);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.menuWords.stop();
  }

  providers(): Promise<HealthRow[]> {
    return this.table({ groupBy: 'provider' });
  }

  words(provider: string): string | null {
    return this.menuWords.get(provider);
  }

  /** Folds in the calls of the breaker window from StepAttempt (every replica's). */
  async sync(): Promise<void> {
    const { window, windowMs } = this.o.settings;
    const since = new Date(this.now().getTime() - windowMs);
    // The newest calls matter; a busy window is bounded per sync.
    const rows = await this.o.calls.recentCalls(since, Math.max(1000, window * 100));
    for (const row of rows.reverse()) {
      this.breaker.record(CircuitBreaker.key(row), {
        id: row.id,
        at: row.finishedAt.getTime(),
        outcome: row.outcome as 'success' | 'error',
        errorKind: row.errorKind,
      });
    }
  }

  /**
   * The health table: figures from StepAttempt (all replicas) with this process's circuit
   * state added, plus a row for any provider/model whose circuit is open without recent calls.
   */
  async table(options: { window?: HealthWindow; groupBy?: 'model' | 'provider' } = {}): Promise<HealthRow[]> {
    const rows = await providerHealth(this.o.calls, { ...options, now: this.now() });
    if (options.groupBy === 'provider') {
      return rows.map((row) => ({ ...row, circuit: this.worstCircuit(row.provider) }));
    }
    const withCircuit: HealthRow[] = rows.map((row) => ({
      ...row,
      circuit: this.breaker.snapshot(`${row.provider}/${row.model}`),
    }));
    for (const key of this.breaker.keys()) {
      const circuit = this.breaker.snapshot(key);
      if (circuit.state === 'closed' || withCircuit.some((r) => `${r.provider}/${r.model}` === key)) continue;
      const [provider = key, ...model] = key.split('/');
      withCircuit.push(emptyRow(provider, model.join('/'), circuit));
    }
    return withCircuit;
  }

  /** A provider's circuit, as the worst of its models' (open > half-open > closed). */
  private worstCircuit(provider: string): CircuitSnapshot | undefined {
    const order = { open: 2, half_open: 1, closed: 0 } as const;
    let worst: CircuitSnapshot | undefined;
    for (const key of this.breaker.keys()) {
      if (!key.startsWith(`${provider}/`)) continue;
      const c = this.breaker.snapshot(key);
      if (!worst || order[c.state] > order[worst.state]) worst = c;
    }
    return worst;
  }
}

function emptyRow(provider: string, model: string, circuit: CircuitSnapshot): HealthRow {
  return { ...quietRow(provider, model), mainFailureKind: circuit.mainFailureKind, circuit };
}

/** Menus are drawn from memory: a render never waits for a query. */
export const WORDS_REFRESH_MS = 15_000;

/**
 * Provider health as every surface asks for it: `/workflow health` and App Home (the
 * figures per provider, with circuit state), the cards' menus (a few words per provider,
 * from memory) and the alerts' "Retry with" ranking (HealthMonitor.table). One answer.
 */
export interface ProviderHealth {
  /** One row per provider that had calls recently (or an open circuit), with its circuit. */
  providers(): Promise<HealthRow[]>;
  /** Words beside a provider in a model menu ("degraded: rate limited"), or null. */
  words(provider: string): string | null;
}

/**
 * The figures alone, for a process that runs without circuit breakers (tests, tools): no
 * background work, so the menus say nothing.
 */
export function figuresOnly(
  calls: Pick<RunStore, 'recentCalls'>,
  clock: Pick<Clock, 'now'> = systemClock,
): ProviderHealth {
  return {
    providers: () => providerHealth(calls, { groupBy: 'provider', now: clock.now() }),
    words: () => null,
  };
}

/** The menus' words per provider, refreshed in the background. */
class MenuWords {
  private readonly words = new Map<string, string | null>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly rows: () => Promise<HealthRow[]>) {}

  get(provider: string): string | null {
    return this.words.get(provider) ?? null;
  }

  async refresh(): Promise<void> {
    const rows = await this.rows();
    this.words.clear();
    for (const row of rows) this.words.set(row.provider, shortHealth(row));
  }

  async start(everyMs: number, logger?: Logger): Promise<void> {
    const refresh = () =>
      this.refresh().catch((error: unknown) =>
        logger?.warn({ err: (error as Error).message }, 'provider health for the menus unavailable'),
      );
    await refresh();
    if (everyMs > 0 && !this.timer) {
      this.timer = setInterval(refresh, everyMs);
      this.timer.unref();
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
