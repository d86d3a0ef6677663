import { afterEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { EngineError } from '../../src/engine/engine-error.js';
import { TestClock } from '../support/clock.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import {
  createTestEngine,
  fail,
  putWorkflow,
  ScriptedProvider,
  step,
  waitForRun,
} from '../support/engine.js';

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
let engine: Engine | undefined;

afterEach(async () => {
  await engine?.stop(0);
  engine = undefined;
});

async function start(e: Engine, workflow: string, input = 'the input') {
  engine = e;
  await e.start();
  return e.runs.startRun({ workflow, input, startedBy: 'U1', trigger: 'slash' });
}

describe('a run', () => {
  it('executes steps in order and passes each output to the next', async () => {
    const openai = new ScriptedProvider('openai', (r) => `[${r.prompt}]`);
    await putWorkflow(db, {
      name: 'chain',
      provider: 'openai',
      model: 'gpt-4o-mini',
      steps: [
        step('one', 'A {{input}}'),
        step('two', 'B {{steps.one.output}}'),
        step('three', 'C {{previous.output}}'),
      ],
    });
    const run = await start(createTestEngine(db, [openai]), 'chain', 'x');
    await waitForRun(db, run.id, ['completed']);
    const steps = await db.prisma.runStep.findMany({
      where: { runId: run.id },
      orderBy: { position: 'asc' },
    });
    expect(steps.map((s) => s.status)).toEqual(['completed', 'completed', 'completed']);
    expect(steps.map((s) => s.output)).toEqual(['[A x]', '[B [A x]]', '[C [B [A x]]]']);
    expect(steps[0]).toMatchObject({ answeredProvider: 'openai', answeredModel: 'gpt-4o-mini', attempts: 1 });
    expect(await db.prisma.stepAttempt.count({ where: { runId: run.id, outcome: 'success' } })).toBe(3);
  });

  it('snapshots the workflow: editing the definition later does not change the run', async () => {
    const openai = new ScriptedProvider('openai');
    const wf = await putWorkflow(db, { name: 'snap', steps: [step('only', 'hello')] });
    const run = await start(createTestEngine(db, [openai]), 'snap');
    await db.prisma.workflow.update({
      where: { id: wf.id },
      data: { definition: { name: 'snap', description: '', owners: [], fallbacks: [], steps: [] } },
    });
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls[0]?.prompt).toBe('hello');
  });
});

describe('failures', () => {
  it('retries a rate-limited call, waiting at least what Retry-After asked', async () => {
    const clock = new TestClock({ realTime: true, sleeps: 'skip' });
    const openai = new ScriptedProvider('openai', (_r, call) => {
      if (call < 3) throw fail({ kind: 'rate_limit', provider: 'openai', status: 429, retryAfterMs: 7000 });
      return 'ok';
    });
    await putWorkflow(db, { name: 'rl', provider: 'openai', steps: [step('s', 'p')] });
    const run = await start(createTestEngine(db, [openai], { clock }), 'rl');
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls).toHaveLength(3);
    expect(clock.sleeps).toEqual([7000, 7000]);
    const attempts = await db.prisma.stepAttempt.findMany({
      where: { runId: run.id },
      orderBy: { number: 'asc' },
    });
    expect(attempts.map((a) => [a.outcome, a.errorKind, a.httpStatus])).toEqual([
      ['error', 'rate_limit', 429],
      ['error', 'rate_limit', 429],
      ['success', null, null],
    ]);
  });

  it('backs off exponentially within the cap when the provider gives no delay', async () => {
    const clock = new TestClock({ realTime: true, sleeps: 'skip' });
    const openai = new ScriptedProvider('openai', () => {
      throw fail({ kind: 'server', provider: 'openai', status: 500 });
    });
    await putWorkflow(db, { name: 'bo', provider: 'openai', steps: [step('s', 'p')] });
    const e = createTestEngine(db, [openai], { clock, retry: { maxAttempts: 4, baseMs: 100, maxMs: 250 } });
    const run = await start(e, 'bo');
    await waitForRun(db, run.id, ['paused']);
    // random() = 0 in tests, so no jitter: 100, 200, then capped at 250.
    expect(clock.sleeps).toEqual([100, 200, 250]);
    expect(openai.calls).toHaveLength(4);
  });

  it('does not retry a billing error and goes straight to the fallback', async () => {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'quota', provider: 'anthropic', status: 400, message: 'credit balance is too low' });
    });
    const openai = new ScriptedProvider('openai', () => 'from openai');
    await putWorkflow(db, {
      name: 'fb',
      steps: [
        step('s', 'p', {
          provider: 'anthropic',
          model: 'claude-haiku-4-5',
          fallbacks: [{ provider: 'openai', model: 'gpt-4o-mini' }],
        }),
      ],
    });
    const run = await start(createTestEngine(db, [anthropic, openai]), 'fb');
    await waitForRun(db, run.id, ['completed']);
    expect(anthropic.calls).toHaveLength(1);
    const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
    expect(s).toMatchObject({
      output: 'from openai',
      answeredProvider: 'openai',
      answeredModel: 'gpt-4o-mini',
    });
  });

  it('walks fallbacks in order: step fallbacks first, then the workflow’s', async () => {
    const order: string[] = [];
    const failing = (id: 'openai' | 'anthropic') =>
      new ScriptedProvider(id, (r) => {
        order.push(`${id}/${r.model}`);
        throw fail({ kind: 'auth', provider: id, status: 401 });
      });
    const google = new ScriptedProvider('google', (r) => {
      order.push(`google/${r.model}`);
      return 'ok';
    });
    await putWorkflow(db, {
      name: 'order',
      fallbacks: [{ provider: 'google', model: 'gemini-2.5-pro' }],
      steps: [
        step('s', 'p', {
          provider: 'openai',
          model: 'gpt-4o',
          fallbacks: [
            { provider: 'anthropic', model: 'claude-haiku-4-5' },
            { provider: 'openai', model: 'gpt-4o-mini' },
          ],
        }),
      ],
    });
    const run = await start(createTestEngine(db, [failing('openai'), failing('anthropic'), google]), 'order');
    await waitForRun(db, run.id, ['completed']);
    expect(order).toEqual([
      'openai/gpt-4o',
      'anthropic/claude-haiku-4-5',
      'openai/gpt-4o-mini',
      'google/gemini-2.5-pro',
    ]);
  });

  it('runs on the configured default when the step names only providers without credentials', async () => {
    const openai = new ScriptedProvider('openai', () => 'answered');
    await putWorkflow(db, {
      name: 'nokey',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      steps: [step('s', 'p')],
    });
    const run = await start(createTestEngine(db, [openai]), 'nokey');
    await waitForRun(db, run.id, ['completed']);
    const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
    expect(s).toMatchObject({ answeredProvider: 'openai', answeredModel: 'gpt-4o-mini', output: 'answered' });
  });

  it('pauses the step and the run with the last error kept when every option fails', async () => {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({
        kind: 'quota',
        provider: 'anthropic',
        model: 'claude-haiku-4-5',
        status: 400,
        message: 'credit balance is too low',
      });
    });
    await putWorkflow(db, {
      name: 'pause',
      provider: 'anthropic',
      model: 'claude-haiku-4-5',
      steps: [step('one', 'p1'), step('two', 'p2')],
    });
    const run = await start(createTestEngine(db, [anthropic]), 'pause');
    await waitForRun(db, run.id, ['paused']);
    const steps = await db.prisma.runStep.findMany({
      where: { runId: run.id },
      orderBy: { position: 'asc' },
    });
    expect(steps[0]).toMatchObject({
      status: 'paused',
      lastErrorKind: 'quota',
      lastErrorStatus: 400,
      lastErrorProvider: 'anthropic',
      lastErrorMessage: 'credit balance is too low',
      leaseOwner: null,
    });
    expect(steps[1]?.status).toBe('pending');
  });
});

describe('rescuing a paused step', () => {
  async function pausedRun() {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'quota', provider: 'anthropic', status: 402 });
    });
    const openai = new ScriptedProvider('openai', (r) => `ok:${r.system ?? 'no persona'}`);
    await putWorkflow(
      db,
      {
        name: 'rescue',
        provider: 'anthropic',
        model: 'claude-haiku-4-5',
        persona: 'writer',
        steps: [step('s', 'p')],
      },
      [
        { name: 'writer', system: 'You write.' },
        { name: 'reviewer', system: 'You review.' },
      ],
    );
    const e = createTestEngine(db, [anthropic, openai]);
    const run = await start(e, 'rescue');
    await waitForRun(db, run.id, ['paused']);
    const s = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
    return { e, run, s, openai, anthropic };
  }

  it('switching provider and persona, then Retry, completes the run with the new choices', async () => {
    const { e, run, s, openai } = await pausedRun();
    const reviewer = await db.prisma.persona.findUniqueOrThrow({ where: { name: 'reviewer' } });
    await e.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o' }, 'U1');
    await e.runs.setStepPersona(s.id, reviewer.id, 'U1');
    await e.runs.retryStep(s.id, 'U1');
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls[0]).toMatchObject({ model: 'gpt-4o', system: 'You review.' });
    const done = await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } });
    expect(done).toMatchObject({
      output: 'ok:You review.',
      personaUsed: 'reviewer',
      answeredProvider: 'openai',
    });
    const audit = await db.prisma.auditEvent.findMany({
      where: { runStepId: s.id },
      orderBy: { createdAt: 'asc' },
    });
    expect(audit.map((a) => [a.action, a.fromValue, a.toValue])).toEqual([
      ['step.model', null, 'openai/gpt-4o'],
      ['step.persona', null, 'reviewer'],
      ['step.retry', 'paused', 'pending'],
    ]);
  });

  it('"workflow default" clears a persona override', async () => {
    const { e, run, s, openai } = await pausedRun();
    const reviewer = await db.prisma.persona.findUniqueOrThrow({ where: { name: 'reviewer' } });
    await e.runs.setStepPersona(s.id, reviewer.id, 'U1');
    await e.runs.setStepPersona(s.id, null, 'U1');
    await e.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o-mini' }, 'U1');
    await e.runs.retryStep(s.id, 'U1');
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls[0]?.system).toBe('You write.');
  });

  it('refuses a model that is not offered and changes nothing', async () => {
    const { e, s } = await pausedRun();
    const forged = e.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-9-ultra' }, 'U1');
    await expect(forged).rejects.toMatchObject({ code: 'invalid_choice' });
    const unconfigured = e.runs.setStepModel(s.id, { provider: 'google', model: 'gemini-2.5-pro' }, 'U1');
    await expect(unconfigured).rejects.toBeInstanceOf(EngineError);
    const after = await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } });
    expect(after).toMatchObject({ overrideProvider: null, overrideModel: null, version: s.version });
    expect(await db.prisma.auditEvent.count({ where: { runStepId: s.id } })).toBe(0);
  });

  it('refuses an unknown persona id', async () => {
    const { e, s } = await pausedRun();
    await expect(e.runs.setStepPersona(s.id, 'nope', 'U1')).rejects.toMatchObject({ code: 'invalid_choice' });
  });

  it('a stale version (someone else changed the card) is refused', async () => {
    const { e, s } = await pausedRun();
    await e.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o' }, 'U1', s.version);
    const second = e.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o-mini' }, 'U2', s.version);
    await expect(second).rejects.toMatchObject({ code: 'stale' });
    const after = await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } });
    expect(after.overrideModel).toBe('gpt-4o');
  });

  it('two Retry clicks at once have exactly one effect', async () => {
    const { e, run, s, openai } = await pausedRun();
    await e.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o' }, 'U1');
    const fresh = await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } });
    const results = await Promise.allSettled([
      e.runs.retryStep(s.id, 'U1', fresh.version),
      e.runs.retryStep(s.id, 'U2', fresh.version),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls).toHaveLength(1);
  });

  it('a completed step cannot be edited or retried', async () => {
    const { e, run, s } = await pausedRun();
    await e.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o' }, 'U1');
    await e.runs.retryStep(s.id, 'U1');
    await waitForRun(db, run.id, ['completed']);
    await expect(e.runs.retryStep(s.id, 'U1')).rejects.toMatchObject({ code: 'stale' });
    await expect(
      e.runs.setStepModel(s.id, { provider: 'openai', model: 'gpt-4o-mini' }, 'U1'),
    ).rejects.toMatchObject({
      code: 'stale',
    });
    const after = await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } });
    expect(after).toMatchObject({ status: 'completed', overrideModel: 'gpt-4o' });
  });
});

describe('run controls', () => {
  it('cancel skips the remaining steps and a cancelled run cannot be resumed', async () => {
    const anthropic = new ScriptedProvider('anthropic', () => {
      throw fail({ kind: 'auth', provider: 'anthropic', status: 401 });
    });
    await putWorkflow(db, { name: 'cancel', provider: 'anthropic', steps: [step('a', 'p'), step('b', 'q')] });
    const e = createTestEngine(db, [anthropic]);
    const run = await start(e, 'cancel');
    await waitForRun(db, run.id, ['paused']);
    await e.runs.cancelRun(run.id, 'U1');
    const steps = await db.prisma.runStep.findMany({
      where: { runId: run.id },
      orderBy: { position: 'asc' },
    });
    expect(steps.map((s) => s.status)).toEqual(['cancelled', 'skipped']);
    await expect(e.runs.resumeRun(run.id, 'U1')).rejects.toMatchObject({ code: 'stale' });
    expect((await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe(
      'cancelled',
    );
  });

  it('pause stops before the next step; resume carries on', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    // Paused while the first step's call is under way (its claim made), not before the claim.
    let calling: () => void = () => {};
    const called = new Promise<void>((r) => {
      calling = r;
    });
    const openai = new ScriptedProvider('openai', async (r) => {
      if (r.prompt === 'first') {
        calling();
        await gate;
      }
      return r.prompt;
    });
    await putWorkflow(db, {
      name: 'pr',
      provider: 'openai',
      steps: [step('a', 'first'), step('b', 'second')],
    });
    const e = createTestEngine(db, [openai]);
    const run = await start(e, 'pr');
    await called;
    await e.runs.pauseRun(run.id, 'U1');
    release();
    await new Promise((r) => setTimeout(r, 200));
    const steps = await db.prisma.runStep.findMany({
      where: { runId: run.id },
      orderBy: { position: 'asc' },
    });
    expect(steps.map((s) => s.status)).toEqual(['completed', 'pending']);
    expect((await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('paused');
    await e.runs.resumeRun(run.id, 'U1');
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls.map((c) => c.prompt)).toEqual(['first', 'second']);
  });

  it('an engine stopped and started again in the same process carries on with new runs', async () => {
    const openai = new ScriptedProvider('openai', () => 'ok');
    await putWorkflow(db, { name: 'restart', provider: 'openai', steps: [step('a', 'p')] });
    const e = createTestEngine(db, [openai]);
    const first = await start(e, 'restart');
    await waitForRun(db, first.id, ['completed']);
    await e.stop(0);
    await e.start();
    const second = await e.runs.startRun({
      workflow: 'restart',
      input: '',
      startedBy: 'U1',
      trigger: 'slash',
    });
    await waitForRun(db, second.id, ['completed']);
    expect(openai.calls).toHaveLength(2);
  });

  it('refuses an unknown workflow (listing the known ones) and oversized input, creating nothing', async () => {
    const openai = new ScriptedProvider('openai');
    await putWorkflow(db, { name: 'release-notes', steps: [step('a', 'p')] });
    engine = createTestEngine(db, [openai]);
    await expect(
      engine.runs.startRun({ workflow: 'relase-notes', input: '', startedBy: 'U1', trigger: 'slash' }),
    ).rejects.toMatchObject({ code: 'not_found', suggestions: ['release-notes'] });
    await expect(
      engine.runs.startRun({
        workflow: 'release-notes',
        input: 'x'.repeat(1_000_000),
        startedBy: 'U1',
        trigger: 'slash',
      }),
    ).rejects.toMatchObject({ code: 'input_too_large' });
    expect(await db.prisma.workflowRun.count()).toBe(0);
  });
});
