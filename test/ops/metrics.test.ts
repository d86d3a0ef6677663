import { afterEach, describe, expect, it } from 'vitest';
import { EngineEventBus } from '../../src/core/events.js';
import type { Engine } from '../../src/engine/engine.js';
import { InProcessQueue } from '../../src/engine/queue.js';
import { createMetrics, type Metrics } from '../../src/ops/metrics.js';
import { buildPriceList } from '../../src/providers/prices.js';
import { storesOf, type TestDatabase, useTestDatabase } from '../support/db.js';
import {
  createTestEngine,
  fail,
  putWorkflow,
  ScriptedProvider,
  step,
  waitFor,
  waitForRun,
} from '../support/engine.js';
import { metricType, sampleValue } from './prometheus.js';

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
let engine: Engine | undefined;
let metrics: Metrics | undefined;

afterEach(async () => {
  metrics?.close();
  metrics = undefined;
  await engine?.stop(0);
  engine = undefined;
});

/** An engine with metrics attached, as main.ts wires them. */
async function startEngine(...providers: ScriptedProvider[]) {
  engine = createTestEngine(db, providers);
  metrics = createMetrics({ events: engine.events, queue: engine.queue, reads: storesOf(db).reads });
  await engine.start();
  return { engine, metrics };
}

describe('metrics from a real run', () => {
  it('counts provider calls by provider, model, outcome and error kind, with latency histograms', async () => {
    const openai = new ScriptedProvider('openai');
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'quota', provider: 'anthropic', status: 400 });
    });
    await putWorkflow(db, {
      name: 'fine',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [step('one', 'a'), step('two', 'b')],
    });
    await putWorkflow(db, {
      name: 'broke',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      steps: [step('only', 'c')],
    });
    const { engine, metrics } = await startEngine(openai, anthropic);
    const fine = await engine.runs.startRun({
      workflow: 'fine',
      input: '',
      startedBy: 'U1',
      trigger: 'slash',
    });
    const broke = await engine.runs.startRun({
      workflow: 'broke',
      input: '',
      startedBy: 'U1',
      trigger: 'slash',
    });
    await waitForRun(db, fine.id, ['completed']);
    await waitForRun(db, broke.id, ['paused']);

    const text = await metrics.render();
    expect(metricType(text, 'switchboard_provider_calls_total')).toBe('counter');
    expect(
      sampleValue(text, 'switchboard_provider_calls_total', {
        provider: 'openai',
        model: 'gpt-4o-mini',
        outcome: 'success',
        error_kind: 'none',
      }),
    ).toBe(2);
    // quota is not retryable: one call, then the step pauses.
    expect(
      sampleValue(text, 'switchboard_provider_calls_total', {
        provider: 'anthropic',
        model: 'claude-haiku-4-5',
        outcome: 'error',
        error_kind: 'quota',
      }),
    ).toBe(1);

    expect(metricType(text, 'switchboard_provider_latency_seconds')).toBe('histogram');
    const openaiLatency = { provider: 'openai', model: 'gpt-4o-mini' };
    expect(sampleValue(text, 'switchboard_provider_latency_seconds_count', openaiLatency)).toBe(2);
    expect(
      sampleValue(text, 'switchboard_provider_latency_seconds_bucket', { ...openaiLatency, le: '+Inf' }),
    ).toBe(2);
    expect(
      sampleValue(text, 'switchboard_provider_latency_seconds_sum', openaiLatency),
    ).toBeGreaterThanOrEqual(0);
  });

  it('adds up the cost of answered calls by provider, model and workflow; unpriced calls are counted apart', async () => {
    const openai = new ScriptedProvider('openai');
    await putWorkflow(db, {
      name: 'priced',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [step('one', 'a'), step('two', 'b', { model: 'gpt-4o' })],
    });
    // gpt-4o-mini at $1 in and $2 out per million; gpt-4o with no price at all.
    const listed = buildPriceList({ 'openai/gpt-4o-mini': { inputPerMTok: 1, outputPerMTok: 2 } });
    engine = createTestEngine(db, [openai], {
      prices: { price: (ref) => (ref.model === 'gpt-4o' ? undefined : listed.price(ref)) },
    });
    metrics = createMetrics({ events: engine.events, queue: engine.queue, reads: storesOf(db).reads });
    await engine.start();
    const run = await engine.runs.startRun({
      workflow: 'priced',
      input: '',
      startedBy: 'U1',
      trigger: 'api',
    });
    await waitForRun(db, run.id, ['completed']);
    const text = await metrics.render();
    expect(metricType(text, 'switchboard_cost_usd_total')).toBe('counter');
    // 10 in + 5 out tokens at $1 and $2 per million.
    expect(
      sampleValue(text, 'switchboard_cost_usd_total', {
        provider: 'openai',
        model: 'gpt-4o-mini',
        workflow: 'priced',
      }),
    ).toBeCloseTo(0.00002, 12);
    expect(
      sampleValue(text, 'switchboard_cost_usd_total', {
        provider: 'openai',
        model: 'gpt-4o',
        workflow: 'priced',
      }),
    ).toBeUndefined();
    expect(
      sampleValue(text, 'switchboard_unpriced_calls_total', {
        provider: 'openai',
        model: 'gpt-4o',
        workflow: 'priced',
      }),
    ).toBe(1);
  });

  it('counts step and run transitions by status, and reads paused runs from the database', async () => {
    let failing = true;
    const openai = new ScriptedProvider('openai', (r) => {
      if (failing && r.prompt === 'flaky') throw fail({ kind: 'auth', provider: 'openai', status: 401 });
      return 'ok';
    });
    await putWorkflow(db, {
      name: 'flaky',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [step('first', 'fine'), step('second', 'flaky')],
    });
    const { engine, metrics } = await startEngine(openai);
    const run = await engine.runs.startRun({
      workflow: 'flaky',
      input: '',
      startedBy: 'U1',
      trigger: 'slash',
    });
    await waitForRun(db, run.id, ['paused']);

    let text = await metrics.render();
    expect(metricType(text, 'switchboard_steps_total')).toBe('counter');
    expect(sampleValue(text, 'switchboard_steps_total', { status: 'running' })).toBe(2);
    expect(sampleValue(text, 'switchboard_steps_total', { status: 'completed' })).toBe(1);
    expect(sampleValue(text, 'switchboard_steps_total', { status: 'paused' })).toBe(1);
    expect(sampleValue(text, 'switchboard_runs_total', { status: 'paused' })).toBe(1);
    expect(metricType(text, 'switchboard_paused_runs')).toBe('gauge');
    expect(sampleValue(text, 'switchboard_paused_runs')).toBe(1);

    failing = false;
    const paused = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id, status: 'paused' } });
    await engine.runs.retryStep(paused.id, 'U1');
    await waitForRun(db, run.id, ['completed']);

    text = await metrics.render();
    expect(sampleValue(text, 'switchboard_paused_runs')).toBe(0);
    expect(sampleValue(text, 'switchboard_steps_total', { status: 'completed' })).toBe(2);
    expect(sampleValue(text, 'switchboard_runs_total', { status: 'completed' })).toBe(1);
    expect(sampleValue(text, 'switchboard_queue_depth')).toBe(0);
  });
});

describe('metrics on their own', () => {
  const sources = () => ({ events: new EngineEventBus(), reads: storesOf(db).reads, processMetrics: false });

  it('reports the queue depth the queue reports when scraped', async () => {
    const queue = new InProcessQueue(); // not started: enqueued runs wait
    await queue.enqueue('run-a');
    await queue.enqueue('run-b');
    await queue.enqueue('run-a'); // already waiting: not queued twice
    metrics = createMetrics({ ...sources(), queue });
    const text = await metrics.render();
    expect(metricType(text, 'switchboard_queue_depth')).toBe('gauge');
    expect(sampleValue(text, 'switchboard_queue_depth')).toBe(2);
  });

  it('still answers a scrape when the queue hangs, keeping the last known depth', async () => {
    let hang = false;
    const queue = {
      depth: () => (hang ? new Promise<number>(() => {}) : Promise.resolve(3)),
    };
    metrics = createMetrics({ ...sources(), queue, gaugeTimeoutMs: 50 });
    expect(sampleValue(await metrics.render(), 'switchboard_queue_depth')).toBe(3);
    hang = true;
    expect(sampleValue(await metrics.render(), 'switchboard_queue_depth')).toBe(3);
  });

  it('counts Slack calls and 429s by Web API method', async () => {
    metrics = createMetrics({ ...sources(), queue: new InProcessQueue() });
    metrics.recordSlackCall('chat.postMessage');
    metrics.recordSlackCall('chat.postMessage');
    metrics.recordSlackCall('chat.update');
    metrics.recordSlack429('chat.update');
    const text = await metrics.render();
    expect(sampleValue(text, 'switchboard_slack_calls_total', { method: 'chat.postMessage' })).toBe(2);
    expect(sampleValue(text, 'switchboard_slack_calls_total', { method: 'chat.update' })).toBe(1);
    expect(metricType(text, 'switchboard_slack_rate_limited_total')).toBe('counter');
    expect(sampleValue(text, 'switchboard_slack_rate_limited_total', { method: 'chat.update' })).toBe(1);
    expect(sampleValue(text, 'switchboard_slack_rate_limited_total', { method: 'chat.postMessage' })).toBe(
      undefined,
    );
  });

  it('includes process metrics, and each instance has its own registry', async () => {
    const events = new EngineEventBus();
    const queue = new InProcessQueue();
    metrics = createMetrics({ events, queue, reads: storesOf(db).reads });
    const other = createMetrics({ events, queue, reads: storesOf(db).reads });
    try {
      metrics.recordSlack429('chat.update');
      const text = await metrics.render();
      expect(metricType(text, 'process_cpu_user_seconds_total')).toBe('counter');
      expect(metricType(text, 'nodejs_heap_size_used_bytes')).toBe('gauge');
      expect(metrics.contentType).toMatch(/^text\/plain; version=0\.0\.4/);
      const otherText = await other.render();
      expect(sampleValue(otherText, 'switchboard_slack_rate_limited_total', { method: 'chat.update' })).toBe(
        undefined,
      );
    } finally {
      other.close();
    }
  });

  it('stops counting engine events after close()', async () => {
    const events = new EngineEventBus();
    metrics = createMetrics({
      events,
      queue: new InProcessQueue(),
      reads: storesOf(db).reads,
      processMetrics: false,
    });
    const changed = { runId: 'r', stepId: 's', to: 'completed' as const, actor: 'engine' };
    events.safeEmit('step.changed', changed);
    metrics.close();
    events.safeEmit('step.changed', changed);
    await waitFor(async () => true);
    expect(sampleValue(await metrics.render(), 'switchboard_steps_total', { status: 'completed' })).toBe(1);
  });
});
