import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/database.js';
import { CHILD_LINE_BOUND_MS, killAllChildren, spawnChild, TEST_BOUND_MS } from '../support/children.js';
import { createTestDatabase, seededDataDir, type TestDatabase, usingPostgres } from '../support/db.js';
import { waitFor } from '../support/engine.js';
import { type OpenAIStub, promptOf, startOpenAIStub } from '../support/openai-stub.js';

/**
 * The engine is a real child process, killed with SIGKILL while a step waits on its
 * provider. A second process must finish the run without running a completed step again.
 */

let stub: OpenAIStub;
let dir: string;
let pg: TestDatabase | undefined;
let hangStepTwo = true;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sb-crash-'));
  mkdirSync(join(dir, 'workflows'));
  writeFileSync(
    join(dir, 'workflows', 'crash.yml'),
    [
      'name: crash',
      'provider: openai',
      'model: gpt-4o-mini',
      'steps:',
      '  - name: one',
      '    prompt: "one {{input}}"',
      '  - name: two',
      '    prompt: "two {{steps.one.output}}"',
      '  - name: three',
      '    prompt: "three {{previous.output}}"',
    ].join('\n'),
  );
  stub = await startOpenAIStub((request) => {
    const prompt = promptOf(request);
    if (prompt.startsWith('two') && hangStepTwo) return 'hang';
    return { text: `done(${prompt.split(' ')[0]})` };
  });
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

/** The engine in its own process, on this test's database, workflows and OpenAI stand-in. */
function startChild(args: string[]) {
  return spawnChild('engine-child', args, {
    WORKFLOWS_DIR: join(dir, 'workflows'),
    OPENAI_API_KEY: 'sk-test-crash',
    OPENAI_BASE_URL: stub.baseUrl,
    LEASE_SECONDS: '5',
    RETRY_MAX_ATTEMPTS: '1',
    LOG_LEVEL: 'warn',
    ...(pg?.url ? { DATABASE_URL: pg.url } : { DATA_DIR: join(dir, 'data') }),
  });
}

it(
  'a run whose process is killed mid-step completes after a restart, and no step completes twice',
  async () => {
    const first = startChild(['--start', 'crash']);
    const runId = String((await first.line('runId')).runId);
    await waitFor(
      () => stub.requests.some((r) => promptOf(r).startsWith('two')),
      CHILD_LINE_BOUND_MS,
      'step two to call its provider',
    );
    first.child.kill('SIGKILL');
    await first.exited;

    hangStepTwo = false;
    const second = startChild(['--until-done', runId]);
    const { status } = await second.line('status');
    expect(status).toBe('completed');
    await second.exited;

    const db = pg ?? (await openDatabase({ dataDir: join(dir, 'data') }));
    try {
      const steps = await db.prisma.runStep.findMany({ where: { runId }, orderBy: { position: 'asc' } });
      expect(steps.map((s) => [s.name, s.status, s.output])).toEqual([
        ['one', 'completed', 'done(one)'],
        ['two', 'completed', 'done(two)'],
        ['three', 'completed', 'done(three)'],
      ]);
      const successes = await db.prisma.stepAttempt.groupBy({
        by: ['runStepId'],
        where: { runId, outcome: 'success' },
        _count: true,
      });
      expect(successes.map((s) => s._count)).toEqual([1, 1, 1]);
    } finally {
      if (!pg) await db.close();
    }
    // Step one's provider was called once: the restart did not run it again.
    expect(stub.requests.filter((r) => promptOf(r).startsWith('one'))).toHaveLength(1);
    expect(stub.requests.filter((r) => promptOf(r).startsWith('two'))).toHaveLength(2);
  },
  TEST_BOUND_MS,
);
