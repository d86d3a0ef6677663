import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { CHILD_LINE_BOUND_MS, killAllChildren, spawnChild, TEST_BOUND_MS } from '../support/children.js';
import { createTestDatabase, type TestDatabase, usingPostgres } from '../support/db.js';
import { waitFor } from '../support/engine.js';
import { testDateOffset } from '../support/test-date.mjs';

/**
 * Acceptance: two bot processes on one PostgreSQL with an every-minute schedule — each
 * minute produces exactly one run. Both processes are real (core, engine, node-cron, the
 * scheduler); only the clock is shortened: one real second is one scheduled minute
 * (scheduler-child.ts). Needs PostgreSQL: the embedded database belongs to one process.
 */

const MINUTES = 6;
let pg: TestDatabase | undefined;
let dir: string;

interface Line {
  pid: number;
  ready?: boolean;
  fireAt?: string;
  claimed?: boolean;
  outcome?: string;
  runId?: string | null;
  notice?: string;
}

beforeAll(async () => {
  if (!usingPostgres) return;
  pg = await createTestDatabase();
  dir = mkdtempSync(join(tmpdir(), 'sb-two-schedulers-'));
  writeFileSync(
    join(dir, 'every-minute.yml'),
    [
      'name: every-minute',
      'provider: openai',
      'model: gpt-4o-mini',
      'steps:',
      '  - name: tick',
      '    prompt: "Tick {{input}}"',
      'schedules:',
      '  - cron: "* * * * *"',
      '    channel: C0TICKS',
      '    input: minute',
    ].join('\n'),
  );
});

afterAll(async () => {
  killAllChildren();
  await pg?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function startChild(realEpoch: number, virtualEpoch: number) {
  return spawnChild(
    'scheduler-child',
    ['--real-epoch', String(realEpoch), '--virtual-epoch', String(virtualEpoch)],
    { DATABASE_URL: pg!.url!, WORKFLOWS_DIR: dir, LOG_LEVEL: 'warn' },
  );
}

it.skipIf(!usingPostgres)(
  'two schedulers on one PostgreSQL: every minute of an every-minute schedule produces exactly one run (skipped on the embedded database: it belongs to one process)',
  async () => {
    // The children tick on the machine's clock (node-cron), so the anchor is machine time:
    // this process's clock minus the suite's calendar shift.
    const realEpoch = Math.floor((Date.now() - testDateOffset()) / 1000) * 1000;
    const virtualEpoch = Date.parse('2030-01-07T00:00:00Z');
    const a = startChild(realEpoch, virtualEpoch);
    const b = startChild(realEpoch, virtualEpoch);
    await Promise.all([a.line('ready'), b.line('ready')]);
    const prisma = pg!.prisma;
    const bothReady = await waitFor(async () => {
      const latest = await prisma.scheduleFiring.findFirst({ orderBy: { fireAt: 'desc' } });
      return latest?.fireAt;
    });
    // Enough minutes while both are ticking, each with its run finished.
    await waitFor(
      async () => {
        const contested = await prisma.scheduleFiring.count({ where: { fireAt: { gt: bothReady } } });
        return contested >= MINUTES;
      },
      CHILD_LINE_BOUND_MS,
      `${MINUTES} firings`,
    );
    a.child.kill('SIGTERM');
    b.child.kill('SIGTERM');
    expect([await a.exited, await b.exited]).toEqual([0, 0]);

    const schedule = await prisma.schedule.findFirstOrThrow({
      where: { workflow: { name: 'every-minute' } },
    });
    expect(await prisma.schedule.count()).toBe(1);
    const firings = await prisma.scheduleFiring.findMany({
      where: { scheduleId: schedule.id },
      orderBy: { fireAt: 'asc' },
    });
    const runs = await prisma.workflowRun.findMany({ where: { startedBy: `schedule:${schedule.id}` } });

    // Every firing started a run, and there is no run without its firing.
    expect(firings.length).toBeGreaterThanOrEqual(MINUTES);
    expect(firings.map((f) => f.outcome)).toEqual(firings.map(() => 'started'));
    expect(new Set(firings.map((f) => f.runId)).size).toBe(firings.length);
    expect(runs.map((r) => r.id).sort()).toEqual(firings.map((f) => f.runId!).sort());
    // One firing per minute, no minute skipped.
    const minutes = firings.map((f) => f.fireAt.getTime());
    for (let i = 1; i < minutes.length; i++) expect(minutes[i]! - minutes[i - 1]!).toBe(60_000);

    // Both processes went for the same minutes; exactly one of them won each.
    const events = ([...a.lines, ...b.lines] as unknown as Line[]).filter((l) => l.fireAt !== undefined);
    const byMinute = new Map<string, Line[]>();
    for (const e of events) byMinute.set(e.fireAt!, [...(byMinute.get(e.fireAt!) ?? []), e]);
    for (const f of firings) {
      expect(
        byMinute.get(f.fireAt.toISOString())?.filter((e) => e.claimed),
        f.fireAt.toISOString(),
      ).toHaveLength(1);
    }
    const raced = [...byMinute.values()].filter((list) => new Set(list.map((e) => e.pid)).size === 2);
    expect(raced.length).toBeGreaterThan(0);
    expect([...a.lines, ...b.lines].filter((l) => l.notice)).toEqual([]);
  },
  TEST_BOUND_MS,
);
