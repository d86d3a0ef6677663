import type { Database } from '../../src/db/database.js';
import type { Engine } from '../../src/engine/engine.js';
import { startApiRun, waitFor } from '../support/engine.js';

/**
 * What every fault scenario ends with: each run completed, or paused with a clear state (a
 * paused step that keeps its error); nothing lost, nothing done twice. Printed as one line
 * per scenario.
 */
export interface Figures {
  runs: number;
  steps: number;
  completed: number;
  paused: number;
  attempts: number;
  /** Steps with more than one success, plus prompts a provider answered more than once. */
  duplicates: number;
  /** Runs neither completed nor paused with a clear state. */
  lost: number;
}

/** Starts `count` runs of `workflow` as the API would, one after another; returns their ids. */
export async function startRuns(engine: Engine, workflow: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    ids.push((await startApiRun(engine, workflow)).id);
  }
  return ids;
}

/** Waits, at most `timeoutMs`, until every run of `ids` is completed or paused. */
export async function waitUntilSettled(
  db: Database,
  ids: readonly string[],
  timeoutMs: number,
  what: string,
): Promise<void> {
  await waitFor(
    async () =>
      (await db.prisma.workflowRun.count({
        where: { id: { in: [...ids] }, status: { in: ['completed', 'paused'] } },
      })) === ids.length,
    timeoutMs,
    what,
  );
}

export async function tally(
  db: Database,
  runIds: readonly string[],
  answeredByProviders: ReadonlyMap<string, number>[] = [],
): Promise<Figures> {
  const runs = await db.prisma.workflowRun.findMany({
    where: { id: { in: [...runIds] } },
    include: { steps: true },
  });
  const completed = runs.filter(
    (r) => r.status === 'completed' && r.steps.every((s) => s.status === 'completed'),
  );
  const paused = runs.filter(
    (r) =>
      r.status === 'paused' &&
      r.steps.some((s) => s.status === 'paused' && s.lastErrorKind !== null && s.leaseOwner === null) &&
      !r.steps.some((s) => s.status === 'running'),
  );
  const successes = await db.prisma.stepAttempt.groupBy({
    by: ['runStepId'],
    where: { runId: { in: [...runIds] }, outcome: 'success' },
    _count: true,
  });
  const twiceAnswered = answeredByProviders.reduce(
    (sum, answered) => sum + [...answered.values()].filter((n) => n > 1).length,
    0,
  );
  return {
    runs: runIds.length,
    steps: runs.reduce((sum, r) => sum + r.steps.length, 0),
    completed: completed.length,
    paused: paused.length,
    attempts: await db.prisma.stepAttempt.count({ where: { runId: { in: [...runIds] } } }),
    duplicates: successes.filter((s) => s._count > 1).length + twiceAnswered,
    lost: runIds.length - completed.length - paused.length,
  };
}

export function report(scenario: string, f: Figures, startedAt: number, extra = ''): void {
  const s = ((performance.now() - startedAt) / 1000).toFixed(1);
  console.log(
    `[fault suite] ${scenario.padEnd(28)} | runs ${f.runs} | steps ${f.steps} | completed ${f.completed} | ` +
      `paused ${f.paused} | attempts ${f.attempts} | duplicates ${f.duplicates} | lost ${f.lost} | ${s} s` +
      (extra ? ` | ${extra}` : ''),
  );
}
