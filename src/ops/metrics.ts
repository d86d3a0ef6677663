import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineEventBus } from '../core/events.js';
import type { RunReads } from '../db/run-reads.js';
import type { WorkQueue } from '../engine/queue.js';
import type { Logger } from '../logging.js';
import { withTimeout } from './timeout.js';

/**
 * Prometheus metrics for one process, on a registry of its own (not prom-client's global
 * one), so tests and several cores in one process never share counters.
 *
 * Counters come from engine events, so they count what this process did. The two gauges
 * read shared state when scraped: the queue (pg-boss tables on PostgreSQL) and the runs
 * table. Every replica therefore reports the same cluster-wide value for them; aggregate
 * them with max(), not sum().
 */

/** What the Slack publisher needs: it counts its Web API calls and the 429s it gets. */
export interface SlackCallMetrics {
  recordSlackCall(method: string): void;
  recordSlack429(method: string): void;
}

export interface Metrics extends SlackCallMetrics {
  readonly registry: Registry;
  /** The Content-Type of render()'s output (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** The exposition text for GET /metrics. */
  render(): Promise<string>;
  /** Stops listening to engine events. */
  close(): void;
}

export interface MetricsSources {
  events: EngineEventBus;
  queue: Pick<WorkQueue, 'depth'>;
  reads: Pick<RunReads, 'countPaused'>;
  logger?: Logger;
  /** A scrape waits this long for the queue and the database (default 2000 ms). */
  gaugeTimeoutMs?: number;
  /** Default process metrics (CPU, memory, event loop, GC); on unless false. */
  processMetrics?: boolean;
}

/** LLM calls take from a fraction of a second to minutes; the step timeout caps them. */
const LATENCY_BUCKETS = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300];

export function createMetrics(sources: MetricsSources): Metrics {
  const registry = new Registry();
  if (sources.processMetrics !== false) collectDefaultMetrics({ register: registry });
  const timeoutMs = sources.gaugeTimeoutMs ?? 2000;
  const warn = (what: string, error: unknown) =>
    sources.logger?.warn({ err: error instanceof Error ? error.message : String(error) }, what);

  const providerCalls = new Counter({
    name: 'switchboard_provider_calls_total',
    help: 'Provider calls made by this process, by outcome and normalised error kind ("none" on success).',
    labelNames: ['provider', 'model', 'outcome', 'error_kind'] as const,
    registers: [registry],
  });
  const providerLatency = new Histogram({
    name: 'switchboard_provider_latency_seconds',
    help: 'Provider call latency (successful and failed calls; calls skipped by an open circuit are not observed).',
    labelNames: ['provider', 'model'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const steps = new Counter({
    name: 'switchboard_steps_total',
    help: 'Run step transitions made by this process, by the status entered.',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const runs = new Counter({
    name: 'switchboard_runs_total',
    help: 'Run transitions made by this process, by the status entered.',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const cost = new Counter({
    name: 'switchboard_cost_usd_total',
    help: 'USD spent on answered provider calls by this process, at the price known when each was recorded (docs/control.md).',
    labelNames: ['provider', 'model', 'workflow'] as const,
    registers: [registry],
  });
  const unpriced = new Counter({
    name: 'switchboard_unpriced_calls_total',
    help: 'Answered provider calls whose model has no known price: their cost is missing from switchboard_cost_usd_total.',
    labelNames: ['provider', 'model', 'workflow'] as const,
    registers: [registry],
  });
  const slackCalls = new Counter({
    name: 'switchboard_slack_calls_total',
    help: 'Slack Web API calls made by this process (retries included).',
    labelNames: ['method'] as const,
    registers: [registry],
  });
  const slack429 = new Counter({
    name: 'switchboard_slack_rate_limited_total',
    help: 'Slack Web API calls answered 429 (rate limited).',
    labelNames: ['method'] as const,
    registers: [registry],
  });

  // A gauge that cannot be read keeps its last value: a scrape must still answer when the
  // database is down (readiness reports that), and a stale gauge beats a failed scrape.
  new Gauge({
    name: 'switchboard_queue_depth',
    help: 'Work queue jobs waiting or running (shared by every replica on PostgreSQL).',
    registers: [registry],
    async collect() {
      try {
        this.set(await withTimeout(sources.queue.depth(), timeoutMs));
      } catch (error) {
        warn('metrics: queue depth unavailable', error);
      }
    },
  });
  new Gauge({
    name: 'switchboard_paused_runs',
    help: 'Runs paused and waiting for someone to act (read from the database, shared by every replica).',
    registers: [registry],
    async collect() {
      try {
        this.set(await withTimeout(sources.reads.countPaused(), timeoutMs));
      } catch (error) {
        warn('metrics: paused runs unavailable', error);
      }
    },
  });

  const onAttempt = (e: {
    provider: string;
    model: string;
    outcome: string;
    errorKind: string | null;
    latencyMs: number;
    costUsd?: number | null;
    workflow?: string;
  }) => {
    if (e.outcome === 'success') {
      const labels = { provider: e.provider, model: e.model, workflow: e.workflow ?? 'unknown' };
      if (e.costUsd === null || e.costUsd === undefined) unpriced.inc(labels);
      else cost.inc(labels, e.costUsd);
    }
    providerCalls.inc({
      provider: e.provider,
      model: e.model,
      outcome: e.outcome,
      error_kind: e.errorKind ?? 'none',
    });
    if (e.outcome !== 'skipped') {
      providerLatency.observe({ provider: e.provider, model: e.model }, e.latencyMs / 1000);
    }
  };
  const onStep = (e: { to: string }) => steps.inc({ status: e.to });
  const onRun = (e: { to: string }) => runs.inc({ status: e.to });
  sources.events.on('attempt.recorded', onAttempt);
  sources.events.on('step.changed', onStep);
  sources.events.on('run.changed', onRun);

  return {
    registry,
    contentType: registry.contentType,
    recordSlackCall: (method) => slackCalls.inc({ method }),
    recordSlack429: (method) => slack429.inc({ method }),
    render: () => registry.metrics(),
    close() {
      sources.events.off('attempt.recorded', onAttempt);
      sources.events.off('step.changed', onStep);
      sources.events.off('run.changed', onRun);
    },
  };
}
