import { type Clock, systemClock } from '../core/clock.js';
import { kindWords } from '../core/error-kinds.js';
import type { EngineEventBus } from '../core/events.js';
import type { HealthGate } from '../core/ports.js';
import type { PrismaClient } from '../db/generated/client.js';
import type { Logger } from '../logging.js';
import type { ModelRef } from '../workflows/definition.js';
import { type BreakerSettings, CircuitBreaker, type CircuitSnapshot } from './breaker.js';
import { type HealthRow, type HealthWindow, providerHealth } from './stats.js';

export interface HealthMonitorOptions {
  prisma: PrismaClient;
  settings: BreakerSettings;
  /** Injected for tests; defaults to the system clock. */
  clock?: Pick<Clock, 'now'>;
  /** How often to fold in other replicas' calls from StepAttempt (0: only at start). */
  syncMs?: number;
  logger?: Logger;
}

/**
 * Provider health for one process: the engine's HealthGate (circuit breakers fed by the
 * engine's 'attempt.recorded' events) and the figures people see. On start, and every
 * `syncMs` after, it reads the recent StepAttempt rows, so replicas learn from each other's
 * calls and converge on the same circuits; attempt ids keep a call from counting twice.
 */
export class HealthMonitor implements HealthGate {
  readonly breaker: CircuitBreaker;
  private timer: NodeJS.Timeout | undefined;
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
  }

  /** Folds in the calls of the breaker window from StepAttempt (every replica's). */
  async sync(): Promise<void> {
    const { window, windowMs } = this.o.settings;
    const since = new Date(this.now().getTime() - windowMs);
    const rows = await this.o.prisma.stepAttempt.findMany({
      where: { finishedAt: { gte: since }, outcome: { in: ['success', 'error'] } },
      orderBy: { finishedAt: 'desc' },
      // The newest calls matter; a busy window is bounded per sync.
      take: Math.max(1000, window * 100),
      select: { id: true, provider: true, model: true, outcome: true, errorKind: true, finishedAt: true },
    });
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
    const rows = await providerHealth(this.o.prisma, { ...options, now: this.now() });
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
  return {
    provider,
    model,
    calls: 0,
    successes: 0,
    failures: 0,
    successRate: null,
    mainFailureKind: circuit.mainFailureKind,
    lastErrorKind: null,
    lastErrorAt: null,
    lastSuccessAt: null,
    medianLatencyMs: null,
    circuit,
  };
}

/** The monitor the app uses, from Config's breaker settings. */
export function createHealthMonitor(
  prisma: PrismaClient,
  settings: BreakerSettings,
  options: Omit<HealthMonitorOptions, 'prisma' | 'settings'> = {},
): HealthMonitor {
  return new HealthMonitor({ prisma, settings, ...options });
}
