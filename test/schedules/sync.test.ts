import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCore } from '../../src/bootstrap.js';
import { loadConfig } from '../../src/config.js';
import type { ScheduleDefinition, WorkflowDefinition } from '../../src/core/workflow-definition.js';
import { syncWorkflows } from '../../src/db/workflow-store.js';
import { InProcessQueue } from '../../src/engine/queue.js';
import { silentLogger } from '../../src/logging.js';
import { startSchedules } from '../../src/schedules/start.js';
import { TestClock } from '../support/clock.js';
import { storesOf, type TestDatabase, useTestDatabase } from '../support/db.js';
import { providerSource, ScriptedProvider, step, waitFor } from '../support/engine.js';
import { manualCron } from './support.js';

/** Schedules declared in workflow files become Schedule rows on start. */

let db: TestDatabase;
useTestDatabase((created) => {
  db = created;
});

const schedule = (over: Partial<ScheduleDefinition> = {}): ScheduleDefinition => ({
  cron: '0 9 * * 1-5',
  channel: 'C0DIGEST',
  input: '',
  overlap: 'skip',
  missed: 'run_once',
  ...over,
});
const workflow = (name: string, schedules: ScheduleDefinition[]): WorkflowDefinition => ({
  name,
  description: '',
  owners: [],
  fallbacks: [],
  steps: [step('summarize', 'Summarize {{input}}')],
  schedules,
});

async function syncAt(now: string, ...workflows: WorkflowDefinition[]) {
  await syncWorkflows(db.prisma, { workflows, personas: [], sourceDir: 'workflows' });
  return storesOf(db).schedules.sync({ defaultTimezone: 'Europe/Berlin', now: new Date(now) });
}
const rows = () => db.prisma.schedule.findMany({ orderBy: [{ position: 'asc' }, { number: 'asc' }] });

describe('ScheduleStore.sync (schedules from the workflow files)', () => {
  it('creates one row per schedule, keyed by position, armed from now, in SCHEDULE_TIMEZONE by default', async () => {
    const summary = await syncAt(
      '2026-05-04T08:00:00Z',
      workflow('digest', [schedule(), schedule({ cron: '0 17 * * 5', timezone: 'UTC', input: 'week' })]),
    );
    expect(summary).toEqual({ created: 2, updated: 0, unchanged: 0, disabled: 0 });
    expect(
      (await rows()).map((r) => [
        r.source,
        r.position,
        r.cron,
        r.timezone,
        r.input,
        r.createdBy,
        r.nextFireAt?.toISOString(),
      ]),
    ).toEqual([
      [
        'file',
        0,
        '0 9 * * 1-5',
        'Europe/Berlin',
        '',
        'file:workflows/digest.yml',
        '2026-05-05T07:00:00.000Z',
      ],
      ['file', 1, '0 17 * * 5', 'UTC', 'week', 'file:workflows/digest.yml', '2026-05-08T17:00:00.000Z'],
    ]);
    expect(
      await syncAt(
        '2026-05-04T08:30:00Z',
        workflow('digest', [schedule(), schedule({ cron: '0 17 * * 5', timezone: 'UTC', input: 'week' })]),
      ),
    ).toEqual({
      created: 0,
      updated: 0,
      unchanged: 2,
      disabled: 0,
    });
  });

  it('a changed input keeps the schedule armed; a changed cron re-arms it from now', async () => {
    await syncAt('2026-05-04T08:00:00Z', workflow('digest', [schedule(), schedule({ cron: '0 12 * * *' })]));
    const [before0, before1] = await rows();
    await db.prisma.schedule.update({
      where: { id: before0!.id },
      data: { lastFiredAt: new Date('2026-05-01T07:00:00Z') },
    });
    const summary = await syncAt(
      '2026-05-06T08:00:00Z',
      workflow('digest', [schedule({ input: 'new' }), schedule({ cron: '0 13 * * *' })]),
    );
    expect(summary.updated).toBe(2);
    const [after0, after1] = await rows();
    expect(after0!.id).toBe(before0!.id);
    expect(after0!.input).toBe('new');
    expect(after0!.nextFireAt).toEqual(before0!.nextFireAt);
    expect(after1!.id).toBe(before1!.id);
    expect(after1!.nextFireAt?.toISOString()).toBe('2026-05-06T11:00:00.000Z');
  });

  it('a schedule removed from the file is disabled (history kept) and comes back re-armed', async () => {
    await syncAt('2026-05-04T08:00:00Z', workflow('digest', [schedule(), schedule({ cron: '0 12 * * *' })]));
    expect((await syncAt('2026-05-04T08:00:00Z', workflow('digest', [schedule()]))).disabled).toBe(1);
    expect((await rows()).map((r) => [r.position, r.enabled, r.nextFireAt])).toEqual([
      [0, true, expect.any(Date)],
      [1, false, null],
    ]);
    await syncAt('2026-05-09T08:00:00Z', workflow('digest', [schedule(), schedule({ cron: '0 12 * * *' })]));
    const back = (await rows())[1]!;
    expect(back.enabled).toBe(true);
    expect(back.nextFireAt?.toISOString()).toBe('2026-05-09T10:00:00.000Z');
  });

  it('a workflow whose file is gone disables its file schedules; Slack ones stay but are disarmed', async () => {
    await syncAt('2026-05-04T08:00:00Z', workflow('digest', [schedule()]), workflow('other', []));
    const digest = await db.prisma.workflow.findUniqueOrThrow({ where: { name: 'digest' } });
    const slack = await db.prisma.schedule.create({
      data: {
        workflowId: digest.id,
        cron: '0 8 * * *',
        timezone: 'UTC',
        channelId: 'C0DIGEST',
        createdBy: 'U1',
        nextFireAt: new Date('2026-05-05T08:00:00Z'),
      },
    });
    await syncAt('2026-05-04T08:00:00Z', workflow('other', []));
    const after = await db.prisma.schedule.findMany({ orderBy: { number: 'asc' } });
    expect(after.map((r) => [r.source, r.enabled, r.nextFireAt])).toEqual([
      ['file', false, null],
      ['slack', true, null],
    ]);
    expect(after[1]!.id).toBe(slack.id);
  });
});

describe('startSchedules', () => {
  it('syncs the files, ticks every minute in UTC through node-cron, and fires the file schedule', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-schedules-'));
    writeFileSync(
      join(dir, 'digest.yml'),
      [
        'name: digest',
        'provider: openai',
        'model: gpt-4o-mini',
        'steps:',
        '  - name: summarize',
        '    prompt: "Summarize {{input}}"',
        'schedules:',
        '  - cron: "0 9 * * 1-5"',
        '    timezone: Europe/Berlin',
        '    channel: C0DIGEST',
        '    input: "yesterday\'s incidents"',
      ].join('\n'),
    );
    const core = await createCore(loadConfig({ WORKFLOWS_DIR: dir, LOG_LEVEL: 'silent' }), {
      db,
      logger: silentLogger,
      queue: new InProcessQueue(),
      providers: providerSource(new ScriptedProvider('openai')),
    });
    try {
      await core.engine.start();
      const cron = manualCron();
      const clock = new TestClock({ start: '2026-05-04T06:00:00Z' });
      const schedules = await startSchedules(core, { cron: cron.factory, clock });
      expect(cron.created).toEqual([
        {
          expression: '* * * * *',
          options: { timezone: 'Etc/UTC', name: 'switchboard-schedules', noOverlap: true },
          stopped: false,
        },
      ]);
      const [listed] = await schedules.service.listSchedules();
      expect(listed).toMatchObject({
        workflow: 'digest',
        source: 'file',
        nextFireLocal: 'Mon, 4 May 2026, 09:00 UTC+2',
      });

      clock.set('2026-05-04T07:00:00.020Z');
      await schedules.scheduler.tick();
      const run = await waitFor(() =>
        db.prisma.workflowRun.findFirst({ where: { trigger: 'schedule', status: 'completed' } }),
      );
      expect(run).toMatchObject({
        workflowName: 'digest',
        input: "yesterday's incidents",
        channelId: 'C0DIGEST',
      });
      expect(run.startedBy).toBe(`schedule:${listed!.id}`);
      await schedules.stop();
      expect(cron.created[0]!.stopped).toBe(true);
    } finally {
      await core.engine.stop(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
