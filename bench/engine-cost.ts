import { rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';
import { createBenchDatabase, openBenchDatabases, postgresReachable } from './database.js';
import { type EngineRow, enginePhase } from './phase-engine.js';
import { round } from './stats.js';
import { writeWorkflowsDir } from './workflows.js';

/**
 * `npx tsx bench/engine-cost.ts [--runs 1,50] [--databases postgres,embedded] [--repeat 2]
 * [--seconds 6] [--postgres <admin url>]`: the engine's own cost only (BENCHMARKS.md, "the engine's
 * cost"), without starting the bot: the engine phase's child (bench/engine-child.ts, the
 * same inputs as `npm run bench`: a provider that answers in 200 ms, 6 s in flight, or
 * `--seconds` for a longer window that spreads the process's fixed cost thinner) once per
 * database, size and repeat, each in a fresh process. One line a measurement: CPU per step,
 * in-flight overhead, memory held per run in flight, and the load average around it (the
 * machine may be shared). To compare with an older commit, copy this file into its checkout
 * (engine-child.ts has not changed) and alternate the two.
 */

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

function line(row: EngineRow, load: string): string {
  const active = Math.max(1, row.retained.activeRuns);
  const heldKb = round((row.retained.busy.heapUsed - row.retained.idle.heapUsed) / 1024 / active);
  return (
    `${row.database} × ${row.runs}: CPU/step ${row.cpuMsPerStep} ms, idle ${row.idleCpuMsPerSecond} ms/s, ` +
    `in-flight overhead p50 ${row.steadyMs.p50} ms p99 ${row.steadyMs.p99} ms (${row.steadyMs.n} runs), ` +
    `held ${heldKb} KB/run (${row.retained.activeRuns} in flight), load ${load}`
  );
}

async function main(args: string[]): Promise<void> {
  const sizes = (flag(args, '--runs') ?? '1,50').split(',').map(Number);
  const kinds = (flag(args, '--databases') ?? 'postgres,embedded').split(',') as ('postgres' | 'embedded')[];
  const repeat = Number(flag(args, '--repeat') ?? 1);
  const seconds = Number(flag(args, '--seconds') ?? 6);
  if (!(seconds > 0)) throw new Error('--seconds takes a number of seconds above 0');
  const adminUrl =
    flag(args, '--postgres') ?? process.env.BENCH_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/test';
  if (kinds.includes('postgres') && !(await postgresReachable(adminUrl)))
    throw new Error(`PostgreSQL not reachable at ${adminUrl}`);
  const workflowsDir = writeWorkflowsDir();
  try {
    await measure(sizes, kinds, repeat, seconds, adminUrl, workflowsDir);
  } finally {
    rmSync(workflowsDir, { recursive: true, force: true });
  }
}

async function measure(
  sizes: number[],
  kinds: ('postgres' | 'embedded')[],
  repeat: number,
  seconds: number,
  adminUrl: string,
  workflowsDir: string,
): Promise<void> {
  for (let r = 0; r < repeat; r++) {
    for (const kind of kinds) {
      for (const runs of sizes) {
        // A fresh database for each measurement, as for a fresh process.
        const db = kind === 'postgres' ? await createBenchDatabase(adminUrl) : undefined;
        const before = loadavg()[0]!.toFixed(2);
        try {
          const [row] = await enginePhase({
            databases: [db ? { kind, url: db.url } : { kind }],
            sizes: [runs],
            latencyMs: 200,
            workflowsDir,
            steadySeconds: seconds,
            timeoutMs: 45_000,
            log: () => {},
          });
          console.log(line(row!, `${before}→${loadavg()[0]!.toFixed(2)}`));
        } finally {
          await db?.drop();
        }
      }
    }
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      void Promise.allSettled([...openBenchDatabases].map((db) => db.drop())).then(() => process.exit(130));
    });
  }
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
      process.exit(1);
    },
  );
}
