import { type Core, createCore } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { ProviderSource } from '../src/engine/executor.js';
import { silentLogger } from '../src/logging.js';
import type { Provider } from '../src/providers/types.js';
import { type MemoryFigures, MemorySampler } from './memory.js';
import { BENCH_STEPS } from './workflows.js';

/**
 * One engine-overhead measurement in its own process (node --expose-gc --import tsx
 * bench/engine-child.ts '<json>'): the real core (createCore: database, migrations, workflow
 * sync, engine with pg-boss on PostgreSQL or the in-process queue on the embedded database,
 * circuit breakers) with a provider injected that answers after exactly `latencyMs`. After a
 * few warm-up runs, starts `runs` runs of `bench` at once, waits for them, and prints one
 * `RESULT <json>` line.
 */

export interface EngineChildInput {
  databaseUrl?: string | undefined;
  dataDir?: string | undefined;
  workflowsDir: string;
  runs: number;
  latencyMs: number;
  timeoutMs: number;
}

export interface EngineChildResult {
  runs: number;
  completed: number;
  /** (run wall time − Σ provider latency) / steps, per run, ms. */
  overheadPerStep: number[];
  wallMs: number;
  /** CPU time of the engine process (user + system) per step, ms. */
  cpuMsPerStep: number;
  memory: MemoryFigures;
}

/** A warm process, as a running bot is: the first runs pay for JIT and Prisma's query plans. */
const WARM_UP_RUNS = 5;

function sleepingProvider(latencyMs: number): ProviderSource {
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
    stream() {
      throw new Error('the engine does not stream');
    },
  };
  return { get: (id) => (id === 'openai' ? provider : undefined), configured: () => ['openai'] };
}

/** Starts `count` runs at once and waits (at most `timeoutMs`) until all completed; their ids. */
async function runAll(core: Core, count: number, label: string, timeoutMs: number): Promise<string[]> {
  const done = new Set<string>();
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  const onRun = (e: { runId: string; to: string }) => {
    if (e.to !== 'completed') return;
    done.add(e.runId);
    if (done.size >= count) allDone();
  };
  core.engine.events.on('run.changed', onRun);
  const started = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      core.engine.runs.startRun({
        workflow: 'bench',
        input: `${label} ${i}`,
        startedBy: 'U0BENCH',
        trigger: 'api',
      }),
    ),
  );
  const timer = setTimeout(allDone, timeoutMs);
  await finished;
  clearTimeout(timer);
  core.engine.events.off('run.changed', onRun);
  return started.map((r) => r.id);
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
  await runAll(core, WARM_UP_RUNS, 'warm-up', input.timeoutMs);
  const sampler = new MemorySampler(() => process.memoryUsage());
  await sampler.baseline();

  const t0 = Date.now();
  const cpu0 = process.cpuUsage();
  const ids = await runAll(core, input.runs, 'bench', input.timeoutMs);
  const wallMs = Date.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  const memory = sampler.stop();

  const rows = await core.db.prisma.workflowRun.findMany({
    where: { id: { in: ids }, status: 'completed' },
    select: { createdAt: true, finishedAt: true, attempts: { select: { latencyMs: true } } },
  });
  const overheadPerStep = rows.map((r) => {
    const wall = r.finishedAt!.getTime() - r.createdAt.getTime();
    const provider = r.attempts.reduce((sum, a) => sum + a.latencyMs, 0);
    return (wall - provider) / BENCH_STEPS;
  });
  await core.close();
  return {
    runs: input.runs,
    completed: rows.length,
    overheadPerStep,
    wallMs,
    cpuMsPerStep: (cpu.user + cpu.system) / 1000 / (input.runs * BENCH_STEPS),
    memory,
  };
}

main(JSON.parse(process.argv[2] ?? '{}') as EngineChildInput)
  .then((result) => {
    process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
    process.exit(0);
  })
  .catch((error: unknown) => {
    console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
