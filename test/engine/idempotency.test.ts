import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import {
  createTestEngine,
  fail,
  putWorkflow,
  ScriptedProvider,
  step,
  waitForRun,
} from '../support/engine.js';

/** A replayed request, a double click, two people choosing at once → exactly one effect. */

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
let engine: Engine;
let openai: ScriptedProvider;

beforeEach(async () => {
  openai = new ScriptedProvider('openai', (r) => `ok:${r.model}`);
  await putWorkflow(db, { name: 'once', provider: 'openai', model: 'gpt-4o-mini', steps: [step('s', 'p')] });
  await putWorkflow(db, { name: 'other', provider: 'openai', model: 'gpt-4o-mini', steps: [step('s', 'p')] });
  engine = createTestEngine(db, [openai]);
  await engine.start();
});
afterEach(async () => {
  await engine.stop(0);
});

const request = (key?: string, workflow = 'once') => ({
  workflow,
  input: 'x',
  startedBy: 'U1',
  trigger: 'slash' as const,
  idempotencyKey: key,
});

describe('startRun with an idempotency key', () => {
  it('a replayed request returns the first run and starts nothing new', async () => {
    const first = await engine.runs.startRun(request('slack:trigger-1'));
    const again = await engine.runs.startRun(request('slack:trigger-1'));
    expect(first.replayed).toBe(false);
    expect(again).toMatchObject({ id: first.id, number: first.number, replayed: true });
    await waitForRun(db, first.id, ['completed']);
    expect(await db.prisma.workflowRun.count()).toBe(1);
    expect(openai.calls).toHaveLength(1);
  });

  it('five deliveries of one request at the same moment create one run', async () => {
    const results = await Promise.all(
      Array.from({ length: 5 }, () => engine.runs.startRun(request('slack:trigger-2'))),
    );
    expect(new Set(results.map((r) => r.id)).size).toBe(1);
    expect(results.filter((r) => !r.replayed)).toHaveLength(1);
    await waitForRun(db, results[0]!.id, ['completed']);
    expect(await db.prisma.workflowRun.count()).toBe(1);
    expect(await db.prisma.auditEvent.count({ where: { action: 'run.start' } })).toBe(1);
    expect(openai.calls).toHaveLength(1);
  });

  it('different keys, or no key, start separate runs', async () => {
    await engine.runs.startRun(request('a'));
    await engine.runs.startRun(request('b'));
    await engine.runs.startRun(request());
    await engine.runs.startRun(request());
    expect(await db.prisma.workflowRun.count()).toBe(4);
  });

  it('a key reused for another workflow is refused rather than silently answered', async () => {
    await engine.runs.startRun(request('k'));
    await expect(engine.runs.startRun(request('k', 'other'))).rejects.toMatchObject({
      code: 'invalid_choice',
    });
    expect(await db.prisma.workflowRun.count()).toBe(1);
  });
});

describe('two people acting on one card at once', () => {
  async function pausedStep() {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'quota', provider: 'anthropic', status: 402 });
    });
    await putWorkflow(db, {
      name: 'stuck',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      steps: [step('s', 'p')],
    });
    await engine.stop(0);
    engine = createTestEngine(db, [anthropic, openai]);
    await engine.start();
    const run = await engine.runs.startRun(request(undefined, 'stuck'));
    await waitForRun(db, run.id, ['paused']);
    return { run, s: await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } }) };
  }

  it('concurrent model choices on the same card version: one wins, the other is told the card changed', async () => {
    const { s } = await pausedStep();
    const results = await Promise.allSettled([
      engine.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o' }, 'U1', s.version),
      engine.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o-mini' }, 'U2', s.version),
    ]);
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(1);
    expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({
      code: 'stale',
      message: expect.stringContaining('changed by someone else'),
    });
    const after = await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } });
    expect(after.version).toBe(s.version + 1);
    const audit = await db.prisma.auditEvent.findMany({ where: { runStepId: s.id, action: 'step.model' } });
    expect(audit).toHaveLength(1);
    expect(`${after.overrideProvider}/${after.overrideModel}`).toBe(audit[0]!.toValue);
  });

  it('a model choice racing a Retry on the same version: exactly one applies', async () => {
    const { run, s } = await pausedStep();
    const results = await Promise.allSettled([
      engine.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o' }, 'U1', s.version),
      engine.runs.retryStep(s.id, 'U2', s.version),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const audit = await db.prisma.auditEvent.count({
      where: { runStepId: s.id, action: { in: ['step.model', 'step.retry'] } },
    });
    expect(audit).toBe(1);
    if (results[1].status === 'fulfilled') await waitForRun(db, run.id, ['paused', 'completed']);
  });

  it('a replayed Retry (same version twice) runs the step once', async () => {
    const { run, s } = await pausedStep();
    await engine.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o' }, 'U1');
    const v = (await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } })).version;
    await engine.runs.retryStep(s.id, 'U1', v);
    await expect(engine.runs.retryStep(s.id, 'U1', v)).rejects.toMatchObject({ code: 'stale' });
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls).toHaveLength(1);
    expect(await db.prisma.stepAttempt.count({ where: { runStepId: s.id, outcome: 'success' } })).toBe(1);
  });
});
