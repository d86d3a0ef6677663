import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type Database, openDatabase } from '../../src/db/database.js';
import { CHILD_LINE_BOUND_MS, killAllChildren, spawnChild, TEST_BOUND_MS } from '../support/children.js';
import { createTestDatabase, seededDataDir, type TestDatabase, usingPostgres } from '../support/db.js';
import { waitFor } from '../support/engine.js';
import { type OpenAIStub, promptOf, startOpenAIStub } from '../support/openai-stub.js';
import { report, tally } from './figures.js';

/**
 * A bot process is SIGKILLed while several of its steps wait on the provider. On
 * PostgreSQL a second replica is running all along and takes the dead one's steps once
 * their leases lapse; on the embedded database (one process owns the data folder) the
 * replacement starts after the kill and reclaims them at once. Either way every run
 * completes, no step completes twice, and no prompt is answered twice (the dead process's
 * calls never got an answer).
 */

const RUNS = 12;
let stub: OpenAIStub;
let dir: string;
let pg: TestDatabase | undefined;
let hangA = false;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-kill-'));
  mkdirSync(join(dir, 'workflows'));
  writeFileSync(
    join(dir, 'workflows', 'kill.yml'),
    [
      'name: kill',
      'provider: openai',
      'model: gpt-4o-mini',
      'steps:',
      '  - name: one',
      '    prompt: "one {{run.id}}"',
      '  - name: two',
      '    prompt: "two {{run.id}}"',
      '  - name: three',
      '    prompt: "three {{run.id}}"',
    ].join('\n'),
  );
  // Each process has its own base URL, so the stub can stall the one about to be killed.
  stub = await startOpenAIStub((request, { path }) =>
    hangA && path.startsWith('/a/') ? 'hang' : { text: `ok ${promptOf(request)}`, delayMs: 100 },
  );
  if (usingPostgres) pg = await createTestDatabase();
  // The processes' embedded database, created as their first start would (without its initdb).
  else await seededDataDir(join(dir, 'data'));
});

afterAll(async () => {
  killAllChildren();
  await stub?.close();
  await pg?.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = (name: string): Record<string, string> => ({
  WORKFLOWS_DIR: join(dir, 'workflows'),
  OPENAI_API_KEY: 'sk-test-kill',
  OPENAI_BASE_URL: `${stub.baseUrl.replace(/\/v1$/, '')}/${name}/v1`,
  LEASE_SECONDS: '5',
  WORKER_CONCURRENCY: '4',
  LOG_LEVEL: 'warn',
  ...(pg?.url ? { DATABASE_URL: pg.url } : { DATA_DIR: join(dir, 'data') }),
});

it(
  'a process killed mid-step: its steps are finished by another, none twice, none lost',
  async () => {
    const t0 = performance.now();
    const a = spawnChild('engine-child', ['--start-runs', `kill:${RUNS}`], env('a'));
    const b = usingPostgres
      ? spawnChild('engine-child', ['--until-runs', String(RUNS)], env('b'))
      : undefined;
    const { runIds } = (await a.line('runIds')) as { runIds: string[] };

    // Let a third of the work finish, then stall A's calls and kill it while they hang.
    const answered = () => [...stub.answered.values()].reduce((x, y) => x + y, 0);
    await waitFor(() => answered() >= RUNS, CHILD_LINE_BOUND_MS, 'a first third of the steps');
    hangA = true;
    // Kill A only while every call it has out is one the provider is holding, and every
    // answer it was given is saved (A says so per step). A call answered but not yet saved
    // would be made again by the survivor: provider calls are at-least-once across a crash;
    // stored results are exactly-once.
    const onlyHangingAndAllSaved = () =>
      stub.hangingFrom('/a/') >= 2 &&
      stub.inflightFrom('/a/') === stub.hangingFrom('/a/') &&
      a.lines.filter((l) => 'saved' in l).length >= stub.answeredFrom('/a/');
    await waitFor(onlyHangingAndAllSaved, CHILD_LINE_BOUND_MS, 'process A to hold only unanswered calls');
    const killedWithInFlight = stub.hangingFrom('/a/');
    a.child.kill('SIGKILL');
    await a.exited;

    const finisher = b ?? spawnChild('engine-child', ['--until-runs', String(RUNS)], env('b'));
    await finisher.line('idle');
    await finisher.exited;

    const db: Database = pg ?? (await openDatabase({ dataDir: join(dir, 'data') }));
    try {
      const figures = await tally(db, runIds, [stub.answered]);
      report(
        `process killed mid-step (${usingPostgres ? '2 replicas' : 'restart'})`,
        figures,
        t0,
        `killed with ${killedWithInFlight} calls in flight`,
      );
      expect(figures).toMatchObject({ runs: RUNS, steps: RUNS * 3, completed: RUNS, duplicates: 0, lost: 0 });
    } finally {
      if (!pg) await db.close();
    }
    expect(stub.overlaps).toEqual([]);
  },
  TEST_BOUND_MS,
);
