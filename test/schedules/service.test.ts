import { beforeEach, describe, expect, it } from 'vitest';
import { ScheduleError } from '../../src/schedules/service.js';
import { TestClock } from '../support/clock.js';
import { type TestDatabase, useTestDatabase } from '../support/db.js';
import { createTestEngine, ScriptedProvider } from '../support/engine.js';
import { firingsOf, harness, seedWorkflow } from './support.js';

/** What `/workflow schedule add|list|pause|resume|remove` call, on both databases. */

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});

beforeEach(async () => {
  await seedWorkflow(db, 'digest');
  await seedWorkflow(db, 'release-notes');
});

function setup(at = '2026-05-04T08:00:00Z') {
  return harness(db, createTestEngine(db, [new ScriptedProvider('openai')]), new TestClock({ start: at }));
}

async function refusal(
  promise: Promise<unknown>,
): Promise<{ code: string; message: string; suggestions: string[] }> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ScheduleError);
    const e = error as ScheduleError;
    return { code: e.code, message: e.message, suggestions: e.suggestions };
  }
  throw new Error('expected a ScheduleError');
}

const add = { workflow: 'digest', cron: '0 9 * * 1-5', channelId: 'C0DIGEST', createdBy: 'U1' };

describe('addSchedule', () => {
  it('adds a schedule and says when it fires next, on its own clock', async () => {
    const { service } = setup();
    const view = await service.addSchedule({
      ...add,
      timezone: 'Europe/Berlin',
      input: "yesterday's incidents",
    });
    expect(view).toMatchObject({
      number: expect.any(Number),
      workflow: 'digest',
      source: 'slack',
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Berlin',
      channelId: 'C0DIGEST',
      input: "yesterday's incidents",
      overlap: 'skip',
      missedPolicy: 'run_once',
      paused: false,
      createdBy: 'U1',
      nextFireLocal: 'Tue, 5 May 2026, 09:00 UTC+2',
    });
    expect(view.nextFireAt?.toISOString()).toBe('2026-05-05T07:00:00.000Z');
    const audit = await db.prisma.auditEvent.findFirst({ where: { action: 'schedule.add' } });
    expect(audit).toMatchObject({ workflow: 'digest', actor: 'U1', toValue: '0 9 * * 1-5 Europe/Berlin' });
  });

  it('uses SCHEDULE_TIMEZONE when no zone is given', async () => {
    const { service } = setup();
    expect((await service.addSchedule(add)).timezone).toBe('UTC');
  });

  it('refuses an invalid cron with what is wrong and the format', async () => {
    const { service } = setup();
    expect(await refusal(service.addSchedule({ ...add, cron: '0 25 * * *' }))).toMatchObject({
      code: 'invalid_cron',
      message:
        'Invalid cron expression: "0 25 * * *": hour "25" is not valid (hour must be 0-23, e.g. 9, 9-17 or */2).',
    });
    expect((await refusal(service.addSchedule({ ...add, cron: '*/5 * * * * *' }))).message).toContain(
      'seconds are not supported',
    );
  });

  it('refuses an unknown time zone, suggesting the one meant', async () => {
    const { service } = setup();
    expect(await refusal(service.addSchedule({ ...add, timezone: 'Europe/Berln' }))).toMatchObject({
      code: 'invalid_timezone',
      message:
        'Unknown time zone "Europe/Berln" — did you mean Europe/Berlin? (use an IANA name such as Europe/Berlin, America/New_York or UTC).',
    });
  });

  it('refuses unknown and disabled workflows, a bad channel, a huge input and a duplicate', async () => {
    const { service } = setup();
    expect(await refusal(service.addSchedule({ ...add, workflow: 'digets' }))).toEqual({
      code: 'unknown_workflow',
      message: 'No workflow named `digets`. Did you mean `digest`?',
      suggestions: ['digest'],
    });
    await db.prisma.workflow.update({ where: { name: 'release-notes' }, data: { enabled: false } });
    expect((await refusal(service.addSchedule({ ...add, workflow: 'release-notes' }))).code).toBe(
      'workflow_disabled',
    );
    expect((await refusal(service.addSchedule({ ...add, channelId: '#general' }))).code).toBe(
      'invalid_channel',
    );
    expect((await refusal(service.addSchedule({ ...add, input: 'x'.repeat(10_001) }))).code).toBe(
      'invalid_input',
    );
    const first = await service.addSchedule(add);
    expect(await refusal(service.addSchedule(add))).toMatchObject({
      code: 'duplicate',
      message: `That schedule already exists: #${first.number}.`,
    });
  });
});

describe('listSchedules', () => {
  it('lists by workflow and number with the next fire time; paused ones have none', async () => {
    const { service } = setup();
    const a = await service.addSchedule({ ...add, workflow: 'release-notes', cron: '0 17 * * 5' });
    const b = await service.addSchedule(add);
    const c = await service.addSchedule({ ...add, cron: '30 6 * * *', channelId: 'C0OTHER' });
    await service.pauseSchedule(`#${c.number}`, 'U1');
    const list = await service.listSchedules();
    expect(list.map((s) => [s.workflow, s.number, s.nextFireLocal])).toEqual([
      ['digest', b.number, 'Mon, 4 May 2026, 09:00 UTC'],
      ['digest', c.number, null],
      ['release-notes', a.number, 'Fri, 8 May 2026, 17:00 UTC'],
    ]);
    expect((await service.listSchedules({ channelId: 'C0OTHER' })).map((s) => s.number)).toEqual([c.number]);
    expect((await service.listSchedules({ workflow: 'release-notes' })).map((s) => s.number)).toEqual([
      a.number,
    ]);
  });
});

describe('pause, resume and remove', () => {
  it('firings that fall in a pause are not "missed" after resuming', async () => {
    const h = setup('2026-05-04T08:00:00Z');
    const s = await h.service.addSchedule({ ...add, cron: '0 9 * * *' });
    await h.service.pauseSchedule(String(s.number), 'U1');
    expect(await refusal(h.service.pauseSchedule(String(s.number), 'U1'))).toMatchObject({
      code: 'unchanged',
      message: `Schedule #${s.number} is already paused.`,
    });
    h.clock.set('2026-05-07T12:00:00Z');
    await h.scheduler.tick();
    const resumed = await h.service.resumeSchedule(s.id, 'U1');
    expect(resumed.nextFireLocal).toBe('Fri, 8 May 2026, 09:00 UTC');
    await h.scheduler.tick();
    expect(await firingsOf(db, s.id)).toEqual([]);
    expect(h.notices).toEqual([]);
    const actions = await db.prisma.auditEvent.findMany({ select: { action: true } });
    expect(actions.map((a) => a.action).sort()).toEqual([
      'schedule.add',
      'schedule.pause',
      'schedule.resume',
    ]);
  });

  it('removes a schedule made in Slack; one declared in a file is refused with where to remove it', async () => {
    const { service } = setup();
    const s = await service.addSchedule(add);
    expect((await service.removeSchedule(String(s.number), 'U1')).number).toBe(s.number);
    expect(await db.prisma.schedule.count()).toBe(0);
    expect((await refusal(service.removeSchedule(String(s.number), 'U1'))).code).toBe('not_found');

    const workflow = await db.prisma.workflow.findUniqueOrThrow({ where: { name: 'digest' } });
    const file = await db.prisma.schedule.create({
      data: {
        workflowId: workflow.id,
        source: 'file',
        position: 1,
        cron: '0 9 * * *',
        timezone: 'UTC',
        channelId: 'C0DIGEST',
        createdBy: 'file:workflows/digest.yml',
      },
    });
    expect(await refusal(service.removeSchedule(`#${file.number}`, 'U1'))).toMatchObject({
      code: 'declared_in_file',
      message: `Schedule #${file.number} is declared in workflows/digest.yml (schedules[1]): remove it there, or pause it here.`,
    });
    expect((await service.pauseSchedule(file.id, 'U1')).paused).toBe(true);
  });

  it('unknown numbers are refused with where to look', async () => {
    const { service } = setup();
    expect(await refusal(service.pauseSchedule('#999', 'U1'))).toMatchObject({
      code: 'not_found',
      message: 'No schedule #999. `/workflow schedule list` shows them.',
    });
  });
});

describe('the uniqueness guarantee', () => {
  it('the database refuses a second firing of the same schedule and minute', async () => {
    const { service } = setup();
    const s = await service.addSchedule(add);
    const fireAt = new Date('2026-05-04T09:00:00Z');
    await db.prisma.scheduleFiring.create({ data: { scheduleId: s.id, fireAt, outcome: 'started' } });
    await expect(
      db.prisma.scheduleFiring.create({ data: { scheduleId: s.id, fireAt, outcome: 'started' } }),
    ).rejects.toMatchObject({ code: 'P2002' });
  });
});
