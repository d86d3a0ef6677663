import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './bot-process.js';
import type { EngineChildInput, EngineChildResult } from './engine-child.js';
import { round, summarize } from './stats.js';

/**
 * (b) Engine overhead per step = (run wall time − Σ provider latency) / steps, with N runs
 * started at once, each measurement in a fresh process (bench/engine-child.ts).
 */

export interface EngineRow {
  database: 'embedded' | 'postgres';
  runs: number;
  completed: number;
  overheadPerStepMs: { p50: number; p99: number; max: number };
  wallMs: number;
  memory: EngineChildResult['memory'];
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
    const killer = setTimeout(() => child.kill('SIGKILL'), input.timeoutMs + 60_000);
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
  timeoutMs: number;
  log: (line: string) => void;
}): Promise<EngineRow[]> {
  const rows: EngineRow[] = [];
  for (const db of o.databases) {
    for (const runs of o.sizes) {
      const dataDir =
        db.kind === 'embedded' ? mkdtempSync(join(tmpdir(), 'switchboard-bench-db-')) : undefined;
      try {
        const result = await runChild({
          databaseUrl: db.url,
          dataDir,
          workflowsDir: o.workflowsDir,
          runs,
          latencyMs: o.latencyMs,
          timeoutMs: o.timeoutMs,
        });
        const s = summarize(result.overheadPerStep);
        rows.push({
          database: db.kind,
          runs,
          completed: result.completed,
          overheadPerStepMs: { p50: s.p50, p99: s.p99, max: s.max },
          wallMs: result.wallMs,
          memory: result.memory,
        });
        o.log(
          `  engine ${db.kind} × ${runs}: overhead/step p50 ${s.p50} p99 ${s.p99} ms, ` +
            `${result.completed}/${runs} done in ${round(result.wallMs / 1000)} s`,
        );
      } finally {
        if (dataDir) rmSync(dataDir, { recursive: true, force: true });
      }
    }
  }
  return rows;
}
