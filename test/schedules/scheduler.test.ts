import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Engine } from '../../src/engine/engine.js';
import { EngineError } from '../../src/engine/engine-error.js';
import type { AddScheduleRequest } from '../../src/schedules/service.js';
import { TestClock } from '../support/clock.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { createTestEngine, fail, ScriptedProvider, waitFor, waitForRun } from '../support/engine.js';
import { firingsOf, harness, seedWorkflow } from './support.js';

/**
 * The scheduler against a real database (embedded, or PostgreSQL with TEST_DATABASE_URL),
 * driven by a manual clock: each `tick()` is what node-cron does once a minute.
 */

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});
let engine: Engine;

beforeEach(async () => {
  await seedWorkflow(db);
  engine = createTestEngine(db, [new ScriptedProvider('openai')]);
});
afterEach(async () => {
  await engine.stop(0);
});

const runsOf = (scheduleId: string) =>
  db.prisma.workflowRun.findMany({
    where: { startedBy: `schedule:${scheduleId}` },
    orderBy: { number: 'asc' },
  });

/** A schedule of the `digest` workflow, posting in C0DIGEST, added by U1. */
const digest = (cron: string, more: Partial<AddScheduleRequest> = {}): AddScheduleRequest => ({
  workflow: 'digest',
  cron,
  channelId: 'C0DIGEST',
  createdBy: 'U1',
  ...more,
});

describe('firing', () => {
  it('fires at its minute: the firing is recorded under the scheduled minute and starts one run', async () => {
    await engine.start();
    const h = harness(db, engine, new TestClock({ start: '2026-05-04T08:58:30Z' }));
    const s = await h.service.addSchedule(digest('* * * * *', { input: 'the news' }));
    for (const at of ['2026-05-04T08:59:00.120Z', '2026-05-04T08:59:40Z', '2026-05-04T09:00:00.450Z']) {
      h.clock.set(at);
      await h.scheduler.tick();
      const runs = await runsOf(s.id);
      if (runs.length > 0) await waitForRun(db, runs.at(-1)!.id, ['completed']);
    }
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-05-04T08:59:00.000Z', outcome: 'started', hasRun: true },
      { fireAt: '2026-05-04T09:00:00.000Z', outcome: 'started', hasRun: true },
    ]);
    const runs = await runsOf(s.id);
    expect(runs.map((r) => [r.trigger, r.input, r.channelId, r.status])).toEqual([
      ['schedule', 'the news', 'C0DIGEST', 'completed'],
      ['schedule', 'the news', 'C0DIGEST', 'completed'],
    ]);
    const schedule = await db.prisma.schedule.findUniqueOrThrow({ where: { id: s.id } });
    expect(schedule.lastFiredAt?.toISOString()).toBe('2026-05-04T09:00:00.000Z');
    expect(schedule.nextFireAt?.toISOString()).toBe('2026-05-04T09:01:00.000Z');
    expect(h.notices).toEqual([]);
  });

  it('two schedulers ticking together start one run per firing: the other loses the unique insert', async () => {
    const clock = new TestClock({ start: '2026-05-04T08:59:00Z' });
    const a = harness(db, engine, clock);
    const b = harness(db, engine, clock);
    const s = await a.service.addSchedule(digest('0 9 * * *'));
    clock.set('2026-05-04T09:00:00.010Z');
    await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
    await Promise.all([a.scheduler.tick(), b.scheduler.tick()]);
    expect(await runsOf(s.id)).toHaveLength(1);
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-05-04T09:00:00.000Z', outcome: 'started', hasRun: true },
    ]);
    const events = [...a.firings, ...b.firings];
    expect(events.filter((e) => e.claimed)).toHaveLength(1);
    expect(events).toHaveLength(2);
  });

  it('a schedule added in Slack by another process fires at the next tick, with nothing to reload', async () => {
    const clock = new TestClock({ start: '2026-05-04T08:59:10Z' });
    const h = harness(db, engine, clock);
    await h.scheduler.tick();
    const elsewhere = harness(db, engine, clock);
    const s = await elsewhere.service.addSchedule(digest('0 9 * * *'));
    clock.set('2026-05-04T09:00:00Z');
    await h.scheduler.tick();
    expect(await runsOf(s.id)).toHaveLength(1);
  });

  it('does not fire schedules of a disabled workflow, nor paused ones', async () => {
    const clock = new TestClock({ start: '2026-05-04T08:59:00Z' });
    const h = harness(db, engine, clock);
    const a = await h.service.addSchedule(digest('0 9 * * *'));
    const b = await h.service.addSchedule(digest('0 9 * * *', { channelId: 'C0OTHER' }));
    await h.service.pauseSchedule(String(b.number), 'U1');
    await db.prisma.workflow.update({ where: { name: 'digest' }, data: { enabled: false } });
    clock.set('2026-05-04T09:00:00Z');
    await h.scheduler.tick();
    expect(await runsOf(a.id)).toHaveLength(0);
    expect(await runsOf(b.id)).toHaveLength(0);
  });

  it('a run that cannot start is recorded as failed and the channel is told why', async () => {
    const clock = new TestClock({ start: '2026-05-04T08:59:00Z' });
    const h = harness(db, engine, clock, {
      runs: {
        startRun: async () => {
          throw new EngineError('input_too_large', 'Input is too large.');
        },
      },
    });
    const s = await h.service.addSchedule(digest('0 9 * * *'));
    clock.set('2026-05-04T09:00:01Z');
    await h.scheduler.tick();
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-05-04T09:00:00.000Z', outcome: 'failed', hasRun: false },
    ]);
    expect(h.notices).toEqual([
      {
        channelId: 'C0DIGEST',
        text: 'The Mon, 4 May 2026, 09:00 UTC firing of *digest* (`0 9 * * *`, UTC) could not start a run: Input is too large.',
      },
    ]);
  });
});

describe('daylight saving time', () => {
  /** Ticks once a minute from `from` to `to`, as node-cron would. */
  async function tickEveryMinute(h: ReturnType<typeof harness>, from: string, to: string) {
    for (let t = Date.parse(from); t <= Date.parse(to); t += 60_000) {
      h.clock.set(t + 15); // a tick lands a few milliseconds into its minute
      await h.scheduler.tick();
    }
  }

  it('a 02:30 Europe/Berlin schedule fires exactly once on the spring-forward day, at 03:00 CEST', async () => {
    const h = harness(db, engine, new TestClock({ start: '2026-03-28T22:00:00Z' }));
    const s = await h.service.addSchedule(digest('30 2 * * *', { timezone: 'Europe/Berlin' }));
    // 00:30Z-02:00Z is 01:30 CET → 04:00 CEST: the jump and an hour either side.
    await tickEveryMinute(h, '2026-03-29T00:30:00Z', '2026-03-29T02:00:00Z');
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-03-29T01:00:00.000Z', outcome: 'started', hasRun: true },
    ]);
    expect(await runsOf(s.id)).toHaveLength(1);
    expect((await h.service.getSchedule(s.id)).nextFireLocal).toBe('Mon, 30 Mar 2026, 02:30 UTC+2');
  });

  it('and exactly once on the fall-back day, when 02:30 comes round twice', async () => {
    const h = harness(db, engine, new TestClock({ start: '2026-10-24T22:00:00Z' }));
    const s = await h.service.addSchedule(digest('30 2 * * *', { timezone: 'Europe/Berlin' }));
    await tickEveryMinute(h, '2026-10-25T00:00:00Z', '2026-10-25T02:00:00Z');
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-10-25T00:30:00.000Z', outcome: 'started', hasRun: true },
    ]);
  });
});

describe('firings missed while the bot was down', () => {
  async function downFor(policy: 'run_once' | 'skip') {
    const h = harness(db, engine, new TestClock({ start: '2026-05-01T10:00:00Z' }));
    const s = await h.service.addSchedule(digest('0 9 * * *', { missed: policy }));
    // Down from 1 May 10:00 until 5 May 12:00: 2, 3, 4 and 5 May 09:00 were missed.
    h.clock.set('2026-05-05T12:00:00Z');
    await h.scheduler.start();
    await h.scheduler.stop();
    return { h, s };
  }

  it('run_once (the default): one run now, every missed firing recorded, and the channel is told', async () => {
    const { h, s } = await downFor('run_once');
    const runs = await runsOf(s.id);
    expect(runs).toHaveLength(1);
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-05-02T09:00:00.000Z', outcome: 'missed_skipped', hasRun: false },
      { fireAt: '2026-05-03T09:00:00.000Z', outcome: 'missed_skipped', hasRun: false },
      { fireAt: '2026-05-04T09:00:00.000Z', outcome: 'missed_skipped', hasRun: false },
      { fireAt: '2026-05-05T09:00:00.000Z', outcome: 'missed_run', hasRun: true },
    ]);
    expect(h.notices).toEqual([
      {
        channelId: 'C0DIGEST',
        text: `Missed 4 firings of *digest* (\`0 9 * * *\`, UTC) while Switchboard was down (last: Tue, 5 May 2026, 09:00 UTC); ran it once now (run #${runs[0]!.number}).`,
      },
    ]);
    expect(
      (await db.prisma.schedule.findUniqueOrThrow({ where: { id: s.id } })).nextFireAt?.toISOString(),
    ).toBe('2026-05-06T09:00:00.000Z');
  });

  it('skip: no run, the firings are recorded and the channel is told when it runs next', async () => {
    const { h, s } = await downFor('skip');
    expect(await runsOf(s.id)).toHaveLength(0);
    expect((await firingsOf(db, s.id)).map((f) => f.outcome)).toEqual([
      'missed_skipped',
      'missed_skipped',
      'missed_skipped',
      'missed_skipped',
    ]);
    expect(h.notices.map((n) => n.text)).toEqual([
      'Missed 4 firings of *digest* (`0 9 * * *`, UTC) while Switchboard was down (last: Tue, 5 May 2026, 09:00 UTC); not run (missed: skip). Next: Wed, 6 May 2026, 09:00 UTC.',
    ]);
  });

  it('a short restart is not "missed": a firing up to five minutes late runs as usual, silently', async () => {
    const h = harness(db, engine, new TestClock({ start: '2026-05-04T08:50:00Z' }));
    const s = await h.service.addSchedule(digest('0 9 * * *'));
    h.clock.set('2026-05-04T09:04:00Z');
    await h.scheduler.tick();
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-05-04T09:00:00.000Z', outcome: 'started', hasRun: true },
    ]);
    expect(h.notices).toEqual([]);
  });

  it('when the bot is back in time for a firing, that one runs as usual and the earlier ones are reported', async () => {
    const h = harness(db, engine, new TestClock({ start: '2026-05-04T06:30:00Z' }));
    const s = await h.service.addSchedule(digest('0 * * * *'));
    h.clock.set('2026-05-04T09:00:10Z');
    await h.scheduler.tick();
    const [run] = await runsOf(s.id);
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-05-04T07:00:00.000Z', outcome: 'missed_skipped', hasRun: false },
      { fireAt: '2026-05-04T08:00:00.000Z', outcome: 'missed_skipped', hasRun: false },
      { fireAt: '2026-05-04T09:00:00.000Z', outcome: 'started', hasRun: true },
    ]);
    expect(h.notices.map((n) => n.text)).toEqual([
      `Missed 2 firings of *digest* (\`0 * * * *\`, UTC) while Switchboard was down (last: Mon, 4 May 2026, 08:00 UTC); this firing runs as usual (run #${run!.number}).`,
    ]);
  });

  it('with two processes starting after the outage, the channel hears it once and one run starts', async () => {
    const clock = new TestClock({ start: '2026-05-01T10:00:00Z' });
    const a = harness(db, engine, clock);
    const b = harness(db, engine, clock);
    const s = await a.service.addSchedule(digest('0 9 * * *'));
    clock.set('2026-05-05T12:00:00Z');
    await Promise.all([a.scheduler.start(), b.scheduler.start()]);
    await Promise.all([a.scheduler.stop(), b.scheduler.stop()]);
    expect(await runsOf(s.id)).toHaveLength(1);
    expect([...a.notices, ...b.notices]).toHaveLength(1);
    expect(await firingsOf(db, s.id)).toHaveLength(4);
  });
});

describe('overlap', () => {
  // The engine is not started here, so a run stays queued: "still active".
  it('skip (the default): no new run while the previous one is active', async () => {
    const h = harness(db, engine, new TestClock({ start: '2026-05-04T08:59:30Z' }));
    const s = await h.service.addSchedule(digest('* * * * *'));
    for (const at of ['2026-05-04T09:00:00Z', '2026-05-04T09:01:00Z']) {
      h.clock.set(at);
      await h.scheduler.tick();
    }
    const runs = await runsOf(s.id);
    expect(runs).toHaveLength(1);
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-05-04T09:00:00.000Z', outcome: 'started', hasRun: true },
      { fireAt: '2026-05-04T09:01:00.000Z', outcome: 'skipped_overlap', hasRun: false },
    ]);
    const skipped = await db.prisma.scheduleFiring.findFirstOrThrow({
      where: { outcome: 'skipped_overlap' },
    });
    expect(skipped.detail).toBe(`run #${runs[0]!.number} was still queued`);
  });

  it('queue: the firing waits for the previous run and starts at the first tick after it ends; one waits at most', async () => {
    const h = harness(db, engine, new TestClock({ start: '2026-05-04T08:59:30Z' }));
    const s = await h.service.addSchedule(digest('* * * * *', { overlap: 'queue' }));
    for (const at of ['2026-05-04T09:00:00Z', '2026-05-04T09:01:00Z', '2026-05-04T09:02:00Z']) {
      h.clock.set(at);
      await h.scheduler.tick();
    }
    expect(await firingsOf(db, s.id)).toEqual([
      { fireAt: '2026-05-04T09:00:00.000Z', outcome: 'started', hasRun: true },
      { fireAt: '2026-05-04T09:01:00.000Z', outcome: 'queued', hasRun: false },
      { fireAt: '2026-05-04T09:02:00.000Z', outcome: 'skipped_overlap', hasRun: false },
    ]);
    const [first] = await runsOf(s.id);
    await engine.runs.cancelRun(first!.id, 'U1');
    h.clock.set('2026-05-04T09:02:30Z');
    await h.scheduler.tick();
    const runs = await runsOf(s.id);
    expect(runs).toHaveLength(2);
    const queued = await db.prisma.scheduleFiring.findFirstOrThrow({ where: { outcome: 'queued' } });
    expect(queued.runId).toBe(runs[1]!.id);
    expect(queued.startedAt?.toISOString()).toBe('2026-05-04T09:02:30.000Z');
  });
});

describe('pause timeout', () => {
  async function pausedScheduledRun(pauseTimeoutMinutes: number | undefined) {
    engine = createTestEngine(db, [
      new ScriptedProvider('openai', () =>
        Promise.reject(fail({ kind: 'auth', provider: 'openai', status: 401 })),
      ),
    ]);
    await engine.start();
    const clock = new TestClock({ start: Date.now() });
    const h = harness(db, engine, clock);
    const s = await h.service.addSchedule(digest('* * * * *', { pauseTimeoutMinutes }));
    clock.set(s.nextFireAt!);
    await h.scheduler.tick();
    // No more firings: only the timeout is under test.
    await h.service.pauseSchedule(s.id, 'U1');
    const [run] = await runsOf(s.id);
    const paused = await waitForRun(db, run!.id, ['paused']);
    const step = await waitFor(() =>
      db.prisma.runStep.findFirst({ where: { runId: run!.id, status: 'paused' } }),
    );
    const since = Math.max(paused.updatedAt.getTime(), step.updatedAt.getTime());
    return { h, s, run: paused, since };
  }

  it('a scheduled run paused longer than its pause_timeout_minutes is failed, and the alert is told', async () => {
    const { h, run, since } = await pausedScheduledRun(60);
    h.clock.set(since + 59 * 60_000);
    await h.scheduler.tick();
    expect((await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('paused');

    h.clock.set(since + 61 * 60_000 + 500);
    await h.scheduler.tick();
    const failed = await db.prisma.workflowRun.findUniqueOrThrow({
      where: { id: run.id },
      include: { steps: true },
    });
    expect(failed.status).toBe('failed');
    expect(failed.reason).toBe('Paused for 61 min with nobody acting (pause timeout 60 min).');
    expect(failed.steps.map((s) => s.status)).toEqual(['failed']);
    expect(h.timeouts).toEqual([
      expect.objectContaining({
        runId: run.id,
        workflow: 'digest',
        channelId: 'C0DIGEST',
        pausedMinutes: 61,
        timeoutMinutes: 60,
        text: `Run #${run.number} of *digest* (scheduled) stayed paused for 61 minutes with nobody acting, so it was marked failed (pause timeout: 60 minutes).`,
      }),
    ]);
    const audit = await db.prisma.auditEvent.findFirst({
      where: { runId: run.id, action: 'run.pause_timeout' },
    });
    expect(audit?.actor).toMatch(/^schedule:/);

    await h.scheduler.tick();
    expect(h.timeouts).toHaveLength(1);
  });

  it('uses SCHEDULE_PAUSE_TIMEOUT_MINUTES when the schedule sets none; 0 means never', async () => {
    const { h, run, since } = await pausedScheduledRun(undefined);
    h.clock.set(since + 1439 * 60_000);
    await h.scheduler.tick();
    expect((await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('paused');
    await db.prisma.schedule.updateMany({ data: { pauseTimeoutMinutes: 0 } });
    h.clock.set(since + 10 * 1440 * 60_000);
    await h.scheduler.tick();
    expect((await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('paused');
  });

  it('someone acting on the paused card restarts the wait; without a handler the channel gets the text', async () => {
    const { h, run, since } = await pausedScheduledRun(30);
    const step = await db.prisma.runStep.findFirstOrThrow({ where: { runId: run.id } });
    await engine.runs.setStepModel(step.id, { provider: 'openai', model: 'gpt-4o' }, 'U2');
    const edited = (
      await db.prisma.runStep.findUniqueOrThrow({ where: { id: step.id } })
    ).updatedAt.getTime();
    expect(edited).toBeGreaterThanOrEqual(since);
    h.clock.set(edited + 29 * 60_000);
    await h.scheduler.tick();
    expect((await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('paused');

    const bare = harness(db, engine, h.clock, { onPauseTimeout: undefined });
    h.clock.set(edited + 31 * 60_000);
    await bare.scheduler.tick();
    expect((await db.prisma.workflowRun.findUniqueOrThrow({ where: { id: run.id } })).status).toBe('failed');
    expect(bare.notices.map((n) => n.text)).toEqual([
      `Run #${run.number} of *digest* (scheduled) stayed paused for 31 minutes with nobody acting, so it was marked failed (pause timeout: 30 minutes).`,
    ]);
  });
});
