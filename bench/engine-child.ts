import { type Core, createCore } from '../src/bootstrap.js';
import { loadConfig } from '../src/config.js';
import type { Providers } from '../src/core/ports.js';
import type { Provider } from '../src/core/provider-spec.js';
import { silentLogger } from '../src/logging.js';
import { providersOf } from '../src/providers/registry.js';
import { burst, steady } from './engine-load.js';
import { type MemoryFigures, type MemorySample, MemorySampler, type RetainedFigures } from './memory.js';
import { BENCH_STEPS } from './workflows.js';

/**
 * One engine-overhead measurement in its own process (node --expose-gc --import tsx
 * bench/engine-child.ts '<json>'): the real core (createCore: database, migrations, workflow
 * sync, engine with pg-boss on PostgreSQL or the in-process queue on the embedded database,
 * circuit breakers) with a provider injected that answers after exactly `latencyMs`. After a
 * few warm-up runs: `runs` runs of `bench` started at once (burst), then `runs` kept in
 * flight for `steadySeconds` (engine-load.ts). Prints one `RESULT <json>` line.
 */

export interface EngineChildInput {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  workflowsDir: string;
  runs: number;
  latencyMs: number;
  /** How long `runs` are kept in flight. */
  steadySeconds: number;
  timeoutMs: number;
}

export interface EngineChildResult {
  runs: number;
  /** (run wall time − Σ provider latency) / steps, per completed run, ms: all started at once… */
  burst: number[];
  /** …and with `runs` kept in flight (runs started after the ramp). */
  steady: number[];
  /** Time for the burst to finish. */
  wallMs: number;
  /**
   * CPU time of the engine process (user + system) per step in the steady state, ms: over
   * every step completed in that window (ramp runs included), without the full GC the
   * memory figure forces midway.
   */
  cpuMsPerStep: number;
  /** CPU time the idle engine spends per second (pg-boss, timers, the memory sampler), ms. */
  idleCpuMsPerSecond: number;
  memory: MemoryFigures;
  retained: RetainedFigures;
}

/** A warm process, as a running bot is: the first runs pay for JIT and Prisma's query plans. */
const WARM_UP_RUNS = 5;
/** After the steady state, runs still in flight get this long to finish (and count). */
const STEADY_DRAIN_MS = 10_000;

function sleepingProvider(latencyMs: number): Providers {
  const provider: Provider = {
    id: 'openai',
    label: 'OpenAI',
    async generate(request) {
      await new Promise((resolve) => setTimeout(resolve, latencyMs));
      return {
        text: `ok: ${request.prompt.slice(0, 40)}`,
        usage: { inputTokens: 12, outputTokens: 7 },
        finishReason: 'stop',
        provider: 'openai',
        model: request.model,
      };
    },
    // The engine streams (LIVE_OUTPUT): the same answer, in one delta, then the result.
    async *stream(request) {
      const result = await provider.generate(request);
      yield { type: 'text' as const, text: result.text };
      yield { type: 'done' as const, result };
    },
  };
  return providersOf([provider]);
}

/** After a full GC (the process runs with --expose-gc). */
function retainedNow(): MemorySample {
  (globalThis as { gc?: () => void }).gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  return { rss, heapUsed };
}

async function main(input: EngineChildInput): Promise<EngineChildResult> {
  const config = loadConfig({
    NODE_ENV: 'production',
    LOG_LEVEL: 'silent',
    WORKFLOWS_DIR: input.workflowsDir,
    OPENAI_API_KEY: 'sk-bench-0000000000',
    ...(input.databaseUrl ? { DATABASE_URL: input.databaseUrl } : { DATA_DIR: input.dataDir }),
  });
  // Every run gets a worker slot at once, so the figure is the engine's own time, not queueing.
  config.worker.concurrency = input.runs;
  const core = await createCore(config, {
    logger: silentLogger,
    providers: sleepingProvider(input.latencyMs),
  });
  await core.engine.start();
  await burst(core, WARM_UP_RUNS, 'warm-up', input.timeoutMs);
  const idle = retainedNow();
  const sampler = new MemorySampler(() => process.memoryUsage());
  // What the engine costs doing nothing, so the per-step figure can be read against it.
  const idleCpu0 = process.cpuUsage();
  const idleT0 = performance.now();
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const idleCpu = process.cpuUsage(idleCpu0);
  const idleCpuMsPerSecond = (idleCpu.user + idleCpu.system) / (performance.now() - idleT0);
  await sampler.baseline();

  const t0 = Date.now();
  const burstIds = await burst(core, input.runs, 'burst', input.timeoutMs);
  const wallMs = Date.now() - t0;

  let retained: RetainedFigures = { idle, busy: idle, activeRuns: 0 };
  let gcCpuMicros = 0;
  let stepsCompleted = 0;
  const onStep = (e: { to: string }) => {
    if (e.to === 'completed') stepsCompleted++;
  };
  core.engine.events.on('step.changed', onStep);
  const cpu0 = process.cpuUsage();
  const steadyIds = await steady(core, {
    count: input.runs,
    seconds: input.steadySeconds,
    rampMs: input.latencyMs * BENCH_STEPS,
    timeoutMs: STEADY_DRAIN_MS,
    midway: (activeRuns) => {
      const before = process.cpuUsage();
      retained = { idle, busy: retainedNow(), activeRuns };
      const gc = process.cpuUsage(before);
      gcCpuMicros += gc.user + gc.system;
    },
  });
  const cpu = process.cpuUsage(cpu0);
  core.engine.events.off('step.changed', onStep);
  const memory = sampler.stop();
  const steadyOverhead = await overheads(core, steadyIds);
  const result: EngineChildResult = {
    runs: input.runs,
    burst: await overheads(core, burstIds),
    steady: steadyOverhead,
    wallMs,
    cpuMsPerStep: (cpu.user + cpu.system - gcCpuMicros) / 1000 / Math.max(1, stepsCompleted),
    idleCpuMsPerSecond,
    memory,
    retained,
  };
  await core.close();
  return result;
}

/** (run wall time − Σ provider latency) / steps for each completed run, ms. */
async function overheads(core: Core, ids: string[]): Promise<number[]> {
  const rows = await core.db.prisma.workflowRun.findMany({
    where: { id: { in: ids }, status: 'completed' },
    select: { createdAt: true, finishedAt: true, attempts: { select: { latencyMs: true } } },
  });
  return rows.map((r) => {
    const wall = r.finishedAt!.getTime() - r.createdAt.getTime();
    const provider = r.attempts.reduce((sum, a) => sum + a.latencyMs, 0);
    return (wall - provider) / BENCH_STEPS;
  });
}

main(JSON.parse(process.argv[2] ?? '{}') as EngineChildInput)
  .then((result) => {
    // Exit once the line is out: a pipe takes a long write asynchronously.
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`, () => process.exit(0));
  })
  .catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
