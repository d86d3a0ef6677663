import { afterEach, describe, expect, it } from 'vitest';
import { nowMs, systemClock } from '../../src/core/clock.js';
import { openDatabase } from '../../src/db/database.js';
import { isDatabaseError, isTransientDbError } from '../../src/db/transient-errors.js';
import type { Engine } from '../../src/engine/engine.js';
import { DatabaseUnavailable, Interrupted, persist, StepLease } from '../../src/engine/lease.js';
import { recoverOrphans } from '../../src/engine/recovery.js';
import { TestClock } from '../support/clock.js';
import { type TestDatabase, useTestDatabase, usingPostgres } from '../support/db.js';
import {
  createTestEngine,
  putWorkflow,
  ScriptedProvider,
  startApiRun,
  step,
  waitFor,
  waitForRun,
} from '../support/engine.js';
import { startTcpProxy } from '../support/tcp-proxy.js';

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
let engine: Engine | undefined;

afterEach(async () => {
  await engine?.stop(0);
  engine = undefined;
});

/**
 * Starts a one-step run whose provider call waits until `answer()` is called; returns once
 * the call is in flight, with the step as claimed.
 */
async function runAtItsCall(
  workflow: string,
  text: string,
  options: Parameters<typeof createTestEngine>[2] = {},
) {
  let answer: () => void = () => {};
  const answered = new Promise<void>((r) => {
    answer = r;
  });
  const openai = new ScriptedProvider('openai', async () => {
    await answered;
    return text;
  });
  await putWorkflow(db, { name: workflow, provider: 'openai', steps: [step('s', 'p')] });
  engine = createTestEngine(db, [openai], options);
  await engine.start();
  const run = await startApiRun(engine, workflow);
  await waitFor(() => openai.calls.length === 1, 5000, 'the call');
  const claimed = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
  return { engine, run, step: claimed, openai, answer };
}

describe('leases', () => {
  it('each claim has its own lease token, so a later claim in the same process is told apart', () => {
    const a = new StepLease('host:1', 5000, 0);
    const b = new StepLease('host:1', 5000, 0);
    expect(a.token).not.toBe(b.token);
    expect(a.token.startsWith('host:1~')).toBe(true);
    expect(a.heartbeatMs).toBe(1666);
    a.renewed(2000);
    expect(a.expiresAt).toBe(7000);
    a.renewed(1000); // an older renewal never shortens it
    expect(a.expiresAt).toBe(7000);
  });

  it('an execution that lost its step (another worker holds it now) cannot save its late answer', async () => {
    const { step: s, answer } = await runAtItsCall('lost', 'late answer');
    // What recovery plus another worker would leave behind after this lease lapsed.
    await db.prisma.runStep.update({
      where: { id: s.id },
      data: { leaseOwner: 'other-worker~1', leaseExpiresAt: new Date(Date.now() + 60_000) },
    });
    answer();
    await new Promise((r) => setTimeout(r, 300));
    const after = await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } });
    expect(after).toMatchObject({ status: 'running', leaseOwner: 'other-worker~1', output: null });
    expect(await db.prisma.stepAttempt.count({ where: { runStepId: s.id } })).toBe(0);
  });

  it('heartbeats keep a long call’s lease alive: the sweep never reclaims it and it runs once', async () => {
    const openai = new ScriptedProvider('openai', async () => {
      await new Promise((r) => setTimeout(r, 2500));
      return 'slow but fine';
    });
    await putWorkflow(db, { name: 'slow', provider: 'openai', steps: [step('s', 'p')] });
    engine = createTestEngine(db, [openai], { clock: systemClock, leaseMs: 900, sweepMs: 100 });
    await engine.start();
    const run = await startApiRun(engine, 'slow');
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls).toHaveLength(1);
    expect(await db.prisma.stepAttempt.count({ where: { runId: run.id } })).toBe(1);
  });

  it('the sweep leaves alone a step this process still works on, though its stored lease lapsed', async () => {
    // What a database outage longer than the lease leaves behind: the answer is in hand, the
    // stored expiry has passed. Recovery here must not hand the step to a second call.
    const {
      engine: held,
      run,
      step: s,
      openai,
      answer,
    } = await runAtItsCall('held', 'answer kept', { clock: systemClock, leaseMs: 60_000, sweepMs: 50 });
    await db.prisma.runStep.update({
      where: { id: s.id },
      data: { leaseExpiresAt: new Date(Date.now() - 1000) },
    });
    expect(held.executor.holds(s.leaseOwner)).toBe(true);
    await new Promise((r) => setTimeout(r, 300)); // six sweeps
    expect(await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } })).toMatchObject({
      status: 'running',
      leaseOwner: s.leaseOwner,
    });
    answer();
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls).toHaveLength(1);
    expect(await db.prisma.runStep.findUniqueOrThrow({ where: { id: s.id } })).toMatchObject({
      output: 'answer kept',
    });
    expect(held.executor.holds(s.leaseOwner)).toBe(false);
  });

  it('a claim whose answer the connection lost is handed back at once, not left to its lease', async () => {
    const openai = new ScriptedProvider('openai');
    await putWorkflow(db, {
      name: 'lost-claim',
      provider: 'openai',
      steps: [step('a', 'p'), step('b', 'q')],
    });
    // A one-minute lease and sweep: only the hand-back can finish this run within the wait.
    engine = createTestEngine(db, [openai], { clock: systemClock, leaseMs: 60_000, sweepMs: 60_000 });
    const store = engine.store;
    const claim = store.claimStep.bind(store);
    let dropped = 0;
    store.claimStep = async (...args) => {
      const claimed = await claim(...args);
      if (dropped++ === 0) throw new Error('Connection terminated unexpectedly');
      return claimed; // the first claim committed, and its answer was lost on the way back
    };
    await engine.start();
    const run = await startApiRun(engine, 'lost-claim');
    await waitForRun(db, run.id, ['completed']);
    expect(openai.calls).toHaveLength(2);
    const steps = await db.prisma.runStep.findMany({
      where: { runId: run.id },
      orderBy: { position: 'asc' },
    });
    expect(steps.map((s) => [s.status, s.leaseOwner])).toEqual([
      ['completed', null],
      ['completed', null],
    ]);
    expect(await db.prisma.stepAttempt.count({ where: { runId: run.id } })).toBe(2);
  });

  it('recovery never touches a completed step, even when told every running step is orphaned', async () => {
    const openai = new ScriptedProvider('openai');
    await putWorkflow(db, { name: 'done', provider: 'openai', steps: [step('a', 'p'), step('b', 'q')] });
    engine = createTestEngine(db, [openai]);
    await engine.start();
    const run = await startApiRun(engine, 'done');
    await waitForRun(db, run.id, ['completed']);
    const result = await recoverOrphans(engine.store, engine.queue, { takeAllRunning: true });
    expect(result.reclaimed).toBe(0);
    await new Promise((r) => setTimeout(r, 200));
    expect(openai.calls).toHaveLength(2);
    const steps = await db.prisma.runStep.findMany({ where: { runId: run.id } });
    expect(steps.map((s) => s.status)).toEqual(['completed', 'completed']);
  });
});

describe('saving through a database blip', () => {
  const connectionLost = Object.assign(new Error('Connection terminated unexpectedly'), { code: 'P1017' });

  it('retries a write while the database is unreachable and the lease still holds', async () => {
    const lease = new StepLease('me', 10_000, Date.now());
    let calls = 0;
    const result = await persist(lease, async () => {
      calls += 1;
      if (calls < 3) throw connectionLost;
      return 'saved';
    });
    expect(result).toBe('saved');
    expect(calls).toBe(3);
  });

  it('gives up, as DatabaseUnavailable, before the lease could lapse', async () => {
    // A clock that advances by each wait, so the check does not depend on how loaded the
    // machine is.
    const clock = new TestClock({ sleeps: 'advance' });
    const lease = new StepLease('me', 400, nowMs(clock));
    const waits: { at: number; wait: number }[] = [];
    await expect(
      persist(lease, () => Promise.reject(connectionLost), {
        onRetry: (_error, wait) => waits.push({ at: nowMs(clock), wait }),
        clock,
      }),
    ).rejects.toBeInstanceOf(DatabaseUnavailable);
    expect(waits.length).toBeGreaterThan(0);
    for (const { at, wait } of waits) expect(at + wait).toBeLessThan(lease.expiresAt);
    expect(nowMs(clock)).toBeLessThan(lease.expiresAt);
  });

  it('keeps an outcome past the lease until the database is back (its write is guarded by the token)', async () => {
    const clock = new TestClock({ sleeps: 'advance' });
    const t0 = nowMs(clock);
    const lease = new StepLease('me', 400, t0);
    let calls = 0;
    const saved = await persist(
      lease,
      async () => {
        calls += 1;
        if (nowMs(clock) < t0 + 3000) throw connectionLost; // a 3 s outage, far past the 400 ms lease
        return 'saved';
      },
      { holdUntil: t0 + 60_000, clock },
    );
    expect(saved).toBe('saved');
    expect(nowMs(clock)).toBeGreaterThan(lease.expiresAt);
    expect(calls).toBeGreaterThan(6);
  });

  it('stops holding an outcome at its bound, and at shutdown, as DatabaseUnavailable', async () => {
    const clock = new TestClock({ sleeps: 'advance' });
    const t0 = nowMs(clock);
    const lease = new StepLease('me', 400, t0);
    await expect(
      persist(lease, () => Promise.reject(connectionLost), { holdUntil: t0 + 5000, clock }),
    ).rejects.toBeInstanceOf(DatabaseUnavailable);
    expect(nowMs(clock)).toBeGreaterThan(t0 + 4000);
    expect(nowMs(clock)).toBeLessThan(t0 + 5000);

    // Another reason to abort (the heartbeat's lost lease) does not end a hold; shutdown does.
    const lost = new AbortController();
    lost.abort(new Interrupted('lease_lost'));
    clock.set(t0);
    let tries = 0;
    await persist(
      lease,
      async () => {
        tries += 1;
        if (tries < 5) throw connectionLost;
      },
      { holdUntil: t0 + 5000, signal: lost.signal, clock },
    );
    expect(tries).toBe(5);

    const shutdown = new AbortController();
    shutdown.abort(new Interrupted('shutdown'));
    clock.set(t0);
    tries = 0;
    await expect(
      persist(
        lease,
        () => {
          tries += 1;
          return Promise.reject(connectionLost);
        },
        { holdUntil: t0 + 5000, signal: shutdown.signal, clock },
      ),
    ).rejects.toBeInstanceOf(DatabaseUnavailable);
    expect(tries).toBe(1);
  });

  it('does not retry what will fail again: constraint errors, validation errors, lost leases', async () => {
    const lease = new StepLease('me', 10_000, Date.now());
    for (const error of [
      Object.assign(new Error('Unique constraint failed'), { code: 'P2002' }),
      Object.assign(new Error('bad'), { name: 'PrismaClientValidationError' }),
      new Interrupted('lease_lost'),
    ]) {
      let calls = 0;
      await expect(
        persist(lease, async () => {
          calls += 1;
          throw error;
        }),
      ).rejects.toBe(error);
      expect(calls).toBe(1);
    }
    expect(isTransientDbError(Object.assign(new Error('pool timeout'), { code: 'P2024' }))).toBe(true);
    expect(isTransientDbError(Object.assign(new Error('write conflict'), { code: 'P2034' }))).toBe(true);
    expect(isTransientDbError(new Error('read ECONNRESET'))).toBe(true);
  });

  it('tells a raw statement that lost its connection (P2010) from one that is wrong, by the driver’s cause', () => {
    // The shapes Prisma 7 with @prisma/adapter-pg gives (recorded through a cut connection).
    const rawFailed = (cause: Record<string, unknown>) =>
      Object.assign(new Error('Raw query failed.'), {
        name: 'PrismaClientKnownRequestError',
        code: 'P2010',
        meta: { driverAdapterError: { name: 'DriverAdapterError', cause } },
      });
    expect(isTransientDbError(rawFailed({ kind: 'ConnectionClosed' }))).toBe(true);
    expect(isTransientDbError(rawFailed({ kind: 'DatabaseNotReachable' }))).toBe(true);
    expect(isTransientDbError(rawFailed({ kind: 'postgres', originalCode: '57P01', code: '57P01' }))).toBe(
      true,
    );
    expect(isTransientDbError(rawFailed({ kind: 'postgres', originalCode: '08006', code: '08006' }))).toBe(
      true,
    );
    expect(isTransientDbError(rawFailed({ kind: 'postgres', originalCode: '40P01', code: '40P01' }))).toBe(
      true,
    );
    expect(isTransientDbError(rawFailed({ kind: 'ColumnNotFound', originalCode: '42703' }))).toBe(false);
    expect(isTransientDbError(rawFailed({ kind: 'postgres', originalCode: '22012', code: '22012' }))).toBe(
      false,
    );
    expect(isTransientDbError(rawFailed({ kind: 'UniqueConstraintViolation', originalCode: '23505' }))).toBe(
      false,
    );
    const adapterError = Object.assign(new Error('closed'), {
      name: 'DriverAdapterError',
      cause: { kind: 'ConnectionClosed' },
    });
    expect(isTransientDbError(adapterError)).toBe(true);
  });

  it('tells a driver’s own error (a statement sent without Prisma) by its SQLSTATE', () => {
    // The shape pg and PGlite both throw (DatabaseError: name "error", severity, code).
    const driverError = (code: string) =>
      Object.assign(new Error('refused'), { name: 'error', severity: 'ERROR', code });
    for (const code of ['57P01', '08006', '40P01', '40001', '53300'])
      expect(isTransientDbError(driverError(code)), code).toBe(true);
    for (const code of ['23505', '22P02', '42703', '22012'])
      expect(isTransientDbError(driverError(code)), code).toBe(false);
    expect(isDatabaseError(driverError('23505'))).toBe(true);
    expect(isDatabaseError(new Error('read ECONNRESET'))).toBe(false);
    // A connection that failed before the server said anything has no SQLSTATE: retried.
    expect(
      isTransientDbError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })),
    ).toBe(true);
  });
});

describe.skipIf(!usingPostgres)('raw statements through a dropped connection (PostgreSQL)', () => {
  it('are retried until the server is back, however the driver reports the loss', async () => {
    const proxy = await startTcpProxy(db.url!);
    const viaProxy = await openDatabase({ url: proxy.via(db.url!), poolSize: 4 });
    try {
      // Warm the pool, so the cut finds idle connections as well as new ones.
      await Promise.all([1, 2, 3, 4].map(() => viaProxy.prisma.$queryRawUnsafe('SELECT 1')));
      proxy.cut();
      const lease = new StepLease('me', 30_000, Date.now());
      const failures: unknown[] = [];
      // Through Prisma and through the driver itself (the engine's per-step statements).
      const writes = [1, 2, 3, 4, 5, 6].map((n) =>
        persist(
          lease,
          () =>
            n % 2 === 0
              ? viaProxy.prisma.$queryRawUnsafe<{ n: number }[]>('SELECT $1::int AS n', n)
              : viaProxy.query<{ n: number }>('SELECT $1::int AS n', [n]),
          { onRetry: (error) => failures.push(error) },
        ),
      );
      await new Promise((r) => setTimeout(r, 1000));
      proxy.restore();
      const results = await Promise.all(writes);
      expect(results.map((rows) => rows[0]!.n)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(failures.length).toBeGreaterThan(0);
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  });
});
