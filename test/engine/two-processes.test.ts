import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Core, createCore } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logging.js';
import {
  CHILD_LINE_BOUND_MS,
  killAllChildren,
  spawnChild,
  TEST_BOUND_MS,
  type TestChild,
} from '../support/children.js';
import { createTestDatabase, type TestDatabase, usingPostgres } from '../support/db.js';
import { waitFor } from '../support/engine.js';
import { type OpenAIStub, promptOf, startOpenAIStub } from '../support/openai-stub.js';

/**
 * Two bot processes share one PostgreSQL and work many runs at once. The local provider
 * records which prompts are in flight: no prompt (one step of one run) is ever being
 * answered for two callers at the same moment, every step has exactly one success, and
 * every run completes. On the embedded database one process owns the data folder, so
 * there is no second process to race with: the test is skipped.
 */

const RUNS = 24;
let stub: OpenAIStub;
let dir: string;
let pg: TestDatabase | undefined;
let core: Core | undefined;

beforeAll(async () => {
  if (!usingPostgres) return;
  dir = mkdtempSync(join(tmpdir(), 'sb-two-'));
  mkdirSync(join(dir, 'workflows'));
  writeFileSync(
    join(dir, 'workflows', 'busy.yml'),
    [
      'name: busy',
      'provider: openai',
      'model: gpt-4o-mini',
      'steps:',
      '  - name: one',
      '    prompt: "one {{run.id}} {{input}}"',
      '  - name: two',
      '    prompt: "two {{run.id}} {{previous.output}}"',
      '  - name: three',
      '    prompt: "three {{run.id}} {{previous.output}}"',
    ].join('\n'),
  );
  stub = await startOpenAIStub((request) => {
    const [word, runId] = promptOf(request).split(' ');
    return { text: `${word}-${runId}`, delayMs: 50 + Math.floor(Math.random() * 200) };
  });
  pg = await createTestDatabase();
});

afterAll(async () => {
  killAllChildren();
  await core?.close();
  await stub?.close();
  await pg?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const env = (name: string): Record<string, string> => ({
  DATABASE_URL: pg!.url!,
  WORKFLOWS_DIR: join(dir, 'workflows'),
  OPENAI_API_KEY: 'sk-test-two-processes',
  OPENAI_BASE_URL: `${stub.baseUrl.replace(/\/v1$/, '')}/${name}/v1`,
  LEASE_SECONDS: '5',
  WORKER_CONCURRENCY: '4',
  LOG_LEVEL: 'warn',
});

describe.skipIf(!usingPostgres)('two processes on one PostgreSQL', () => {
  it(
    'never execute the same step at once, complete every run, and run each step exactly once',
    async () => {
      const a: TestChild = spawnChild('engine-child', ['--until-runs', String(RUNS)], env('a'));
      const b: TestChild = spawnChild('engine-child', ['--until-runs', String(RUNS)], env('b'));
      await Promise.all([a.line('ready'), b.line('ready')]);

      // Runs are started from a third, non-working process, as the Slack app would.
      core = await createCore(loadConfig(env('starter')), { logger: silentLogger });
      const ids: string[] = [];
      for (let i = 0; i < RUNS; i++) {
        const run = await core.engine.runs.startRun({
          workflow: 'busy',
          input: `n${i}`,
          startedBy: 'U1',
          trigger: 'api',
          idempotencyKey: `two-processes-${i}`,
        });
        ids.push(run.id);
      }
      const [doneA, doneB] = await Promise.all([a.line('idle'), b.line('idle')]);
      await Promise.all([a.exited, b.exited]);

      const runs = await pg!.prisma.workflowRun.findMany({ where: { id: { in: ids } } });
      expect(runs.map((r) => r.status)).toEqual(Array(RUNS).fill('completed'));
      expect(stub.overlaps).toEqual([]);
      // Both processes did real work.
      expect(Number(doneA.answered)).toBeGreaterThan(0);
      expect(Number(doneB.answered)).toBeGreaterThan(0);
      expect(Number(doneA.answered) + Number(doneB.answered)).toBe(RUNS * 3);

      const steps = await pg!.prisma.runStep.findMany({ where: { runId: { in: ids } } });
      expect(steps).toHaveLength(RUNS * 3);
      expect(steps.every((s) => s.status === 'completed' && s.leaseOwner === null)).toBe(true);
      const successes = await pg!.prisma.stepAttempt.groupBy({
        by: ['runStepId'],
        where: { runId: { in: ids }, outcome: 'success' },
        _count: true,
      });
      expect(successes).toHaveLength(RUNS * 3);
      expect(successes.every((s) => s._count === 1)).toBe(true);
      // A completed step was never called again (by the other process or by recovery).
      expect(stub.requests).toHaveLength(RUNS * 3);
      expect([...stub.answered.values()].every((n) => n === 1)).toBe(true);
      await waitFor(() => stub.inflight.size === 0, CHILD_LINE_BOUND_MS, 'no request in flight');
    },
    TEST_BOUND_MS,
  );
});

describe.skipIf(usingPostgres)('two processes on the embedded database', () => {
  it.skip('not applicable: one process owns the embedded data folder (run with TEST_DATABASE_URL)', () => {});
});
