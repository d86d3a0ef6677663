import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NewRun, NewRunStep } from '../../src/db/run-store.js';
import type { Engine } from '../../src/engine/engine.js';
import { TestClock } from '../support/clock.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { createTestEngine, putWorkflow, ScriptedProvider, step, stepCompletion } from '../support/engine.js';

/**
 * A run is created in one statement (RunStore.createRun) and its first pass starts from the
 * rows that statement wrote (Executor.advance's hand-off) instead of reading them back. The
 * statement is all or nothing, the rows handed over are the rows a read returns, and a first
 * pass from them still refuses whatever another process or a click changed meanwhile.
 */

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
let engine: Engine;
let openai: ScriptedProvider;
let workflowId: string;

beforeEach(async () => {
  openai = new ScriptedProvider('openai', (r) => `ok:${r.model}:${r.prompt}`);
  const wf = await putWorkflow(db, {
    name: 'made',
    provider: 'openai',
    model: 'gpt-4o-mini',
    steps: [step('one', 'first {{input}}'), step('two', 'second')],
  });
  workflowId = wf.id;
  // Not started: each test drives the first pass itself.
  engine = createTestEngine(db, [openai]);
});
afterEach(async () => {
  await engine.stop(0);
});

const plainStep = (name: string, prompt: string): NewRunStep => ({
  name,
  prompt,
  provider: null,
  model: null,
  personaId: null,
  fallbacks: [],
  retry: null,
  timeoutSeconds: null,
});

function newRun(overrides: Partial<NewRun> = {}): NewRun {
  return {
    requestKey: null,
    workflowId,
    workflowName: 'made',
    snapshot: {
      workflowId,
      workflowVersion: 1,
      definition: {
        name: 'made',
        description: '',
        owners: [],
        fallbacks: [],
        provider: 'openai',
        model: 'gpt-4o-mini',
        steps: [step('one', 'first {{input}}'), step('two', 'second')],
      },
      workflowPersonaId: null,
      personas: {},
    },
    input: 'x',
    trigger: 'api',
    startedBy: 'U1',
    channelId: 'C1',
    threadTs: null,
    steps: [plainStep('one', 'first {{input}}'), plainStep('two', 'second')],
    ...overrides,
  };
}

async function create(overrides: Partial<NewRun> = {}) {
  const created = await engine.store.createRun(newRun(overrides));
  if (created === 'duplicate') throw new Error('unexpected duplicate');
  return created;
}

/**
 * Another process claims the run's first step under `lease`; this process's first pass, from
 * the rows the run was created with, must then leave the step to it and call no provider.
 */
async function expectPassRefusedAfterClaimBy(lease: string, created: Awaited<ReturnType<typeof create>>) {
  const now = new Date();
  expect(
    await engine.store.claimStep(created.steps[0]!, {
      lease,
      leaseExpiresAt: new Date(now.getTime() + 60_000),
      startedAt: now,
    }),
  ).toBe(true);
  await engine.executor.advance(created.run.id, created);
  expect(openai.calls).toHaveLength(0);
  expect(await engine.store.step(created.steps[0]!.id)).toMatchObject({
    status: 'running',
    leaseOwner: lease,
  });
}

/** The engine on a database whose driver statements are seen (and may be acted on) first. */
const withStatementsSeen = async (onStatement: (sql: string) => void = () => {}) => {
  const statements: string[] = [];
  const seenDb = {
    ...db,
    query: ((sql, params) => {
      statements.push(sql);
      onStatement(sql);
      return db.query(sql, params);
    }) as typeof db.query,
  };
  await engine.stop(0);
  engine = createTestEngine(seenDb, [openai]);
  return statements;
};

/** A completion of a step claimed under `lease`, as an execution would save it. */
const completionOf = (lease: string, finishesRun = false) =>
  stepCompletion(lease, { workflow: 'made', finishesRun });

const counts = async () => ({
  runs: await db.prisma.workflowRun.count(),
  steps: await db.prisma.runStep.count(),
  audit: await db.prisma.auditEvent.count(),
});

describe('a run created in one statement', () => {
  it('writes the run, its steps and its run.start row, and hands back the rows a read returns', async () => {
    const created = await create({
      budgetUsd: 1.5,
      steps: [
        {
          ...plainStep('one', 'first {{input}}'),
          retry: { maxAttempts: 2 },
          approval: { approvers: ['U2'] },
        },
        { ...plainStep('two', 'second'), fallbacks: [{ provider: 'anthropic', model: 'claude' }] },
      ],
    });
    expect(created.run).toEqual(await engine.store.run(created.run.id));
    expect(created.steps).toEqual(await engine.store.steps(created.run.id));
    expect(created.run).toMatchObject({ status: 'queued', version: 0, budgetUsd: 1.5 });
    expect(created.steps.map((s) => [s.position, s.name, s.status])).toEqual([
      [0, 'one', 'pending'],
      [1, 'two', 'pending'],
    ]);
    const audit = await db.prisma.auditEvent.findMany({ where: { runId: created.run.id } });
    expect(audit).toMatchObject([{ actor: 'U1', action: 'run.start', fromValue: null, toValue: 'api' }]);
  });

  it('is all or nothing: a step the database refuses leaves no run, no step and no audit row', async () => {
    // PostgreSQL text cannot hold a NUL character: the second step's row is refused.
    await expect(
      engine.store.createRun(newRun({ steps: [plainStep('one', 'fine'), plainStep('two', 'bad\u0000')] })),
    ).rejects.toThrow();
    expect(await counts()).toEqual({ runs: 0, steps: 0, audit: 0 });
  });

  it('a request key used already: duplicate, and nothing more is written', async () => {
    await create({ requestKey: 'slack:t1' });
    const before = await counts();
    expect(await engine.store.createRun(newRun({ requestKey: 'slack:t1' }))).toBe('duplicate');
    expect(await counts()).toEqual(before);
  });

  it('a re-run writes its reused steps completed and the old run’s rerun_as row with it', async () => {
    const old = await create();
    const finishedAt = new Date('2026-01-02T03:04:05.678Z');
    const rerun = await create({
      rerunOf: { runId: old.run.id, position: 1 },
      steps: [
        {
          ...plainStep('one', 'first {{input}}'),
          reused: {
            fromRun: old.run.number,
            output: 'kept',
            answeredProvider: 'openai',
            answeredModel: 'gpt-4o-mini',
            personaUsed: null,
            finishReason: 'stop',
            finishedAt,
          },
        },
        plainStep('two', 'second'),
      ],
    });
    expect(rerun.steps).toEqual(await engine.store.steps(rerun.run.id));
    expect(rerun.steps[0]).toMatchObject({
      status: 'completed',
      output: 'kept',
      reusedFrom: old.run.number,
      finishedAt,
    });
    expect(rerun.run).toMatchObject({ rerunOfId: old.run.id, rerunFromPosition: 1 });
    expect(
      await db.prisma.auditEvent.findMany({ where: { runId: old.run.id, action: 'run.rerun_as' } }),
    ).toMatchObject([{ actor: 'U1', fromValue: 'step 2', toValue: `#${rerun.run.number}` }]);
    expect(await db.prisma.auditEvent.count({ where: { runId: rerun.run.id, action: 'run.rerun' } })).toBe(1);
  });
});

describe('the first pass from the rows the run was created with', () => {
  it('runs the run to the end from them', async () => {
    const created = await create();
    await engine.executor.advance(created.run.id, created);
    expect((await engine.store.run(created.run.id))?.status).toBe('completed');
    expect(openai.calls.map((c) => c.prompt)).toEqual(['first x', 'second']);
  });

  it('refuses a step another process claimed meanwhile, and never calls the provider', async () => {
    const created = await create();
    // Another process took the run first: moved it and claimed its first step.
    expect(await engine.store.moveRun(created.run.id, 'running', { actor: 'engine', from: ['queued'] })).toBe(
      true,
    );
    await expectPassRefusedAfterClaimBy('other-host:1~abcd', created);
  });

  it('a step claimed though its run still reads queued: the claim itself refuses it', async () => {
    const created = await create();
    // Only the step changed: this pass moves the run, and its claim (guarded by the step's
    // status and version) is what must miss.
    await expectPassRefusedAfterClaimBy('other-host:1~efgh', created);
  });

  it('when another process only moved the run, reads it again and runs each step once', async () => {
    const created = await create();
    expect(await engine.store.moveRun(created.run.id, 'running', { actor: 'engine', from: ['queued'] })).toBe(
      true,
    );
    await engine.executor.advance(created.run.id, created);
    expect((await engine.store.run(created.run.id))?.status).toBe('completed');
    expect(openai.calls.map((c) => c.prompt)).toEqual(['first x', 'second']);
  });

  it('a step edited from its card since the rows were written runs as edited', async () => {
    const created = await create();
    expect(
      await engine.store.editStep(created.steps[0]!, {
        actor: 'U2',
        editable: ['pending', 'paused'],
        data: { overrideProvider: 'openai', overrideModel: 'gpt-4o' },
        audit: { action: 'step.model', fromValue: null, toValue: 'openai/gpt-4o' },
      }),
    ).toBe(true);
    await engine.executor.advance(created.run.id, created);
    expect((await engine.store.run(created.run.id))?.status).toBe('completed');
    expect(openai.calls.map((c) => c.model)).toEqual(['gpt-4o', 'gpt-4o-mini']);
  });

  it('a run cancelled before its first pass is left alone', async () => {
    const created = await create();
    await engine.runs.cancelRun(created.run.id, 'U1');
    await engine.executor.advance(created.run.id, created);
    expect(openai.calls).toHaveLength(0);
    expect((await engine.store.run(created.run.id))?.status).toBe('cancelled');
  });
});

/**
 * The run's own two moves and its later claims ride on statements the pass makes anyway:
 * queued → running on the first claim, each next step's claim on the completion before it,
 * running → completed on the last step's completion. Each is as guarded as a statement on its
 * own (RunStore.moveRun, claimStep), and told once.
 */
describe("the run's moves on its first claim and its last completion", () => {
  const runEvents = () => {
    const seen: string[] = [];
    engine.events.on('run.changed', (e) => seen.push(`run ${e.to}`));
    engine.events.on('step.changed', (e) => seen.push(`step ${e.to}`));
    return seen;
  };
  const claimOf = (lease: string, extra: { startsRun?: boolean; unchangedSince?: number } = {}) => {
    const now = new Date();
    return { lease, leaseExpiresAt: new Date(now.getTime() + 60_000), startedAt: now, ...extra };
  };

  /** A run of one step, its step claimed under 'here:1~a' (which started the run). */
  const oneStepRunClaimed = async () => {
    const created = await create({ steps: [plainStep('one', 'first {{input}}')] });
    expect(
      await engine.store.claimStep(
        created.steps[0]!,
        claimOf('here:1~a', { startsRun: true, unchangedSince: 0 }),
      ),
    ).toBe(true);
    return created;
  };

  it('a first pass makes one statement a step and none of its own for the run, which ends completed', async () => {
    const statements = await withStatementsSeen();
    const created = await create();
    const seen = runEvents();
    statements.length = 0;
    await engine.executor.advance(created.run.id, created);
    // The first claim, then each completion (the second claiming step two, the last completing
    // the run); no UPDATE of the run on its own.
    expect(statements).toHaveLength(3);
    expect(statements.filter((s) => /^\s*UPDATE "WorkflowRun"/.test(s))).toEqual([]);
    expect(seen).toEqual([
      'run running',
      'step running',
      'step completed',
      'step running',
      'step completed',
      'run completed',
    ]);
    const run = await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: created.run.id } });
    expect(run).toMatchObject({ status: 'completed', version: created.run.version + 2 });
    expect(run.startedAt).not.toBeNull();
    expect(run.finishedAt).not.toBeNull();
  });

  it('a claim that starts a run cancelled meanwhile claims nothing and starts nothing', async () => {
    const created = await create();
    await engine.runs.cancelRun(created.run.id, 'U1');
    const seen = runEvents();
    const claim = claimOf('here:1~a', { startsRun: true, unchangedSince: created.steps[0]!.version });
    expect(await engine.store.claimStep(created.steps[0]!, claim)).toBe(false);
    expect(seen).toEqual([]);
    expect((await engine.store.run(created.run.id))?.status).toBe('cancelled');
    expect((await engine.store.step(created.steps[0]!.id))?.status).not.toBe('running');
  });

  it('two claims starting one run in one statement: one wins the step, the run starts once', async () => {
    const created = await create();
    const seen = runEvents();
    const version = created.steps[0]!.version;
    const results = await Promise.all(
      ['here:1~a', 'there:1~b'].map((lease) =>
        engine.store.claimStep(
          created.steps[0]!,
          claimOf(lease, { startsRun: true, unchangedSince: version }),
        ),
      ),
    );
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(seen).toEqual(['run running', 'step running']);
    expect((await engine.store.run(created.run.id))?.status).toBe('running');
  });

  it('a last completion leaves the run running when the database still has a step to do', async () => {
    const created = await create();
    expect(
      await engine.store.claimStep(
        created.steps[0]!,
        claimOf('here:1~a', { startsRun: true, unchangedSince: 0 }),
      ),
    ).toBe(true);
    const seen = runEvents();
    // The execution believes it holds the last step; the database knows step two is pending.
    const saved = await engine.store.completeStep(created.steps[0]!, completionOf('here:1~a', true), {
      skips: [],
      maybeDone: false,
    });
    expect(saved).toEqual({ runCompleted: false, nextClaimed: false });
    expect(seen).toEqual(['step completed']);
    expect((await engine.store.run(created.run.id))?.status).toBe('running');
  });

  it('a last completion of a run paused meanwhile saves the answer and leaves the run paused', async () => {
    const created = await oneStepRunClaimed();
    expect(await engine.store.moveRun(created.run.id, 'paused', { actor: 'engine', from: ['running'] })).toBe(
      true,
    );
    const saved = await engine.store.completeStep(created.steps[0]!, completionOf('here:1~a', true), {
      skips: [],
      maybeDone: false,
    });
    expect(saved).toEqual({ runCompleted: false, nextClaimed: false });
    expect((await engine.store.step(created.steps[0]!.id))?.status).toBe('completed');
    expect((await engine.store.run(created.run.id))?.status).toBe('paused');
  });

  it('a completion tried again after its commit was lost reports the run it completed, and tells it', async () => {
    const created = await oneStepRunClaimed();
    const done = completionOf('here:1~a', true);
    // The first try committed (the run with it), its answer lost on the way back.
    expect(await engine.store.completeStep(created.steps[0]!, done, { skips: [], maybeDone: false })).toEqual(
      {
        runCompleted: true,
        nextClaimed: false,
      },
    );
    const seen = runEvents();
    expect(await engine.store.completeStep(created.steps[0]!, done, { skips: [], maybeDone: true })).toEqual({
      runCompleted: true,
      nextClaimed: false,
    });
    expect(seen).toEqual(['step completed', 'run completed']);
    expect((await engine.store.run(created.run.id))?.status).toBe('completed');
  });
});

describe('the next step claimed with the completion before it', () => {
  it('a step edited from its card while the one before ran is not claimed with it, and runs as edited', async () => {
    const created = await create();
    openai.behaviour = async (r, n) => {
      if (n === 1)
        await engine.store.editStep(created.steps[1]!, {
          actor: 'U2',
          editable: ['pending', 'paused'],
          data: { overrideProvider: 'openai', overrideModel: 'gpt-4o' },
          audit: { action: 'step.model', fromValue: null, toValue: 'openai/gpt-4o' },
        });
      return `ok:${r.model}`;
    };
    await engine.executor.advance(created.run.id, created);
    expect((await engine.store.run(created.run.id))?.status).toBe('completed');
    expect(openai.calls.map((c) => c.model)).toEqual(['gpt-4o-mini', 'gpt-4o']);
  });

  it('a run paused while its step ran: the answer is saved, the next step not claimed', async () => {
    const created = await create();
    openai.behaviour = async (r, n) => {
      if (n === 1) await engine.store.moveRun(created.run.id, 'paused', { actor: 'U2', from: ['running'] });
      return `ok:${r.model}`;
    };
    await engine.executor.advance(created.run.id, created);
    expect(openai.calls).toHaveLength(1);
    expect((await engine.store.step(created.steps[0]!.id))?.status).toBe('completed');
    expect(await engine.store.step(created.steps[1]!.id)).toMatchObject({
      status: 'pending',
      leaseOwner: null,
    });
    expect((await engine.store.run(created.run.id))?.status).toBe('paused');
  });

  it('a completion tried again after its commit was lost finds the next step it claimed, and tells it', async () => {
    const created = await create();
    expect(
      await engine.store.claimStep(created.steps[0]!, {
        lease: 'here:1~a',
        leaseExpiresAt: new Date(Date.now() + 60_000),
        startedAt: new Date(),
        startsRun: true,
        unchangedSince: 0,
      }),
    ).toBe(true);
    const done = {
      ...completionOf('here:1~a'),
      claimNext: {
        stepId: created.steps[1]!.id,
        claim: {
          lease: 'here:1~b',
          leaseExpiresAt: new Date(Date.now() + 60_000),
          startedAt: new Date(),
          unchangedSince: created.steps[1]!.version,
        },
      },
    };
    expect(await engine.store.completeStep(created.steps[0]!, done, { skips: [], maybeDone: false })).toEqual(
      {
        runCompleted: false,
        nextClaimed: true,
      },
    );
    const seen: string[] = [];
    engine.events.on('step.changed', (e) =>
      seen.push(`${e.stepId === created.steps[1]!.id ? 'two' : 'one'} ${e.to}`),
    );
    // The same completion again (its first answer lost): it counts as done, with its claim.
    expect(await engine.store.completeStep(created.steps[0]!, done, { skips: [], maybeDone: true })).toEqual({
      runCompleted: false,
      nextClaimed: true,
    });
    expect(seen).toEqual(['one completed', 'two running']);
    expect(await engine.store.step(created.steps[1]!.id)).toMatchObject({
      status: 'running',
      leaseOwner: 'here:1~b',
    });
  });

  it('a completion that took long to save renews the lease of the step it claimed before working on it', async () => {
    const clock = new TestClock({ realTime: true, sleeps: 'skip' });
    const seenDb = {
      ...db,
      query: ((sql, params) => {
        // The database was away a while: the completion claiming step two commits 25 s late.
        if (sql.includes('next_claimed')) clock.advance(25_000);
        return db.query(sql, params);
      }) as typeof db.query,
    };
    await engine.stop(0);
    engine = createTestEngine(seenDb, [openai], { clock, leaseMs: 30_000 });
    const created = await create();
    const renewed: { step: string; aheadMs: number }[] = [];
    const renewLease = engine.store.renewLease.bind(engine.store);
    engine.store.renewLease = async (stepId, lease, expiresAt) => {
      const step = stepId === created.steps[1]!.id ? 'two' : 'one';
      renewed.push({ step, aheadMs: expiresAt.getTime() - clock.now().getTime() });
      return renewLease(stepId, lease, expiresAt);
    };
    let renewedBeforeStepTwo: typeof renewed = [];
    openai.behaviour = async (r, n) => {
      if (n === 2) renewedBeforeStepTwo = [...renewed];
      return `ok:${r.model}`;
    };
    await engine.executor.advance(created.run.id, created);
    // Step two's lease, claimed 25 s before, was renewed to a whole lease before its call.
    expect(renewedBeforeStepTwo.map((r) => r.step)).toEqual(['two']);
    expect(renewedBeforeStepTwo[0]!.aheadMs).toBeGreaterThan(25_000);
    expect(openai.calls).toHaveLength(2);
    expect((await engine.store.run(created.run.id))?.status).toBe('completed');
  });

  it('stopped while the completion claimed the next step: that step goes back to pending at once', async () => {
    let stopping: Promise<void> | undefined;
    await withStatementsSeen((sql) => {
      // The engine is told to stop while the completion that claims step two is on its way.
      if (sql.includes('next_claimed') && !stopping) stopping = engine.executor.stop(5_000);
    });
    const created = await create();
    await engine.executor.advance(created.run.id, created);
    await stopping;
    expect(openai.calls).toHaveLength(1);
    expect(await engine.store.step(created.steps[1]!.id)).toMatchObject({
      status: 'pending',
      leaseOwner: null,
      leaseExpiresAt: null,
    });
    expect((await engine.store.run(created.run.id))?.status).toBe('running');
  });
});
