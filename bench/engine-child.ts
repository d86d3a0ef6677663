import { createCore } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import type { ProviderSource } from '../src/engine/executor.js';
import { silentLogger } from '../src/logging.js';
import type { Provider } from '../src/providers/types.js';
import { MemorySampler } from './memory.js';
import { BENCH_STEPS } from './workflows.js';

/**
 * One engine-overhead measurement in its own process (node --expose-gc --import tsx
 * bench/engine-child.ts '<json>'): the real core (createCore: database, migrations, workflow
 * sync, engine with pg-boss on PostgreSQL or the in-process queue on the embedded database,
 * circuit breakers) with a provider injected that answers after exactly `latencyMs`. Starts
 * `runs` runs of `bench` at once, waits for them, and prints one `RESULT <json>` line.
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
  memory: { baselineRss: number; peakRss: number; baselineHeap: number; peakHeap: number };
}

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
  const sampler = new MemorySampler(() => process.memoryUsage());
  await sampler.baseline();

  const done = new Set<string>();
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    allDone = resolve;
  });
  core.engine.events.on('run.changed', (e) => {
    if (e.to !== 'completed') return;
    done.add(e.runId);
    if (done.size >= input.runs) allDone();
  });
  const t0 = Date.now();
  const started = await Promise.all(
    Array.from({ length: input.runs }, (_, i) =>
      core.engine.runs.startRun({
        workflow: 'bench',
        input: `bench run ${i}`,
        startedBy: 'U0BENCH',
        trigger: 'api',
      }),
    ),
  );
  await Promise.race([finished, new Promise((resolve) => setTimeout(resolve, input.timeoutMs))]);
  const wallMs = Date.now() - t0;
  const memory = sampler.stop();

  const ids = started.map((r) => r.id);
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
  return { runs: input.runs, completed: rows.length, overheadPerStep, wallMs, memory };
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
