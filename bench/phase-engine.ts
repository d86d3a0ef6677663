import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, type ServerLaunch } from './bot-process.js';
import type { EngineChildInput, EngineChildResult } from './engine-child.js';
import { round, summarize } from './stats.js';

/**
 * (b) Engine overhead per step = (run wall time − Σ provider latency) / steps at N
 * concurrent runs — N kept in flight (steady) and N started in the same instant (burst) —
 * each N in a fresh process (bench/engine-child.ts).
 */

type Figures = { n: number; p50: number; p99: number; max: number };

export interface EngineRow {
  database: 'embedded' | 'postgres';
  runs: number;
  /** Overhead per step with `runs` kept in flight (the runs measured: n). */
  steadyMs: Figures;
  /** Overhead per step when all `runs` were started in the same instant (completed: n). */
  burstMs: Figures;
  /** Time until the burst's runs had all completed. */
  wallMs: number;
  cpuMsPerStep: number;
  /** CPU the idle engine process spends per second, ms. */
  idleCpuMsPerSecond: number;
  memory: EngineChildResult['memory'];
  retained: EngineChildResult['retained'];
}

function runChild(input: EngineChildInput): Promise<EngineChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', 'bench/engine-child.ts', JSON.stringify(input)],
      { cwd: ROOT, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-5000);
    });
    const killer = setTimeout(
      () => child.kill('SIGKILL'),
      2 * input.timeoutMs + input.steadySeconds * 1000 + 60_000,
    );
    child.on('exit', (code) => {
      clearTimeout(killer);
      const line = out.split('\n').find((l) => l.startsWith('RESULT '));
      if (code === 0 && line) resolve(JSON.parse(line.slice('RESULT '.length)) as EngineChildResult);
      else reject(new Error(`engine child failed (exit ${code}): ${err}`));
    });
  });
}

export async function enginePhase(o: {
  databases: { kind: 'embedded' | 'postgres'; url?: string }[];
  sizes: number[];
  latencyMs: number;
  workflowsDir: string;
  steadySeconds: number;
  timeoutMs: number;
  launch?: ServerLaunch | undefined;
  log: (line: string) => void;
}): Promise<EngineRow[]> {
  const rows: EngineRow[] = [];
  for (const db of o.databases) {
    for (const runs of o.sizes) {
      const dataDir =
        db.kind === 'embedded' ? mkdtempSync(join(tmpdir(), 'switchboard-bench-db-')) : undefined;
      if (dataDir) await o.launch?.seedDataDir?.(dataDir);
      try {
        const result = await runChild({
          databaseUrl: db.url,
          dataDir,
          workflowsDir: o.workflowsDir,
          runs,
          latencyMs: o.latencyMs,
          steadySeconds: o.steadySeconds,
          timeoutMs: o.timeoutMs,
        });
        const pick = ({ n, p50, p99, max }: Figures) => ({ n, p50, p99, max });
        const row: EngineRow = {
          database: db.kind,
          runs,
          steadyMs: pick(summarize(result.steady)),
          burstMs: pick(summarize(result.burst)),
          wallMs: result.wallMs,
          cpuMsPerStep: round(result.cpuMsPerStep, 2),
          idleCpuMsPerSecond: round(result.idleCpuMsPerSecond, 2),
          memory: result.memory,
          retained: result.retained,
        };
        rows.push(row);
        o.log(
          `  engine ${db.kind} × ${runs}: overhead/step in flight p50 ${row.steadyMs.p50} p99 ${row.steadyMs.p99} ms ` +
            `(${row.steadyMs.n} runs), started at once p50 ${row.burstMs.p50} p99 ${row.burstMs.p99} ms ` +
            `(${row.burstMs.n}/${runs} in ${round(result.wallMs / 1000)} s)`,
        );
      } finally {
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      }
    }
  }
  return rows;
}
