import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSchedules } from '../../src/schedules/start.js';
import { parseScheduleCommand } from '../../src/slack/schedule-commands.js';
import { manualCron } from '../schedules/support.js';
import { anthropicBilling } from '../support/anthropic-stub.js';
import { visibleText } from '../support/block-kit.js';
import { TEST_NOW, TestClock, testNow } from '../support/clock.js';
import { waitFor, waitForRun } from '../support/engine.js';
import {
  type Harness,
  interceptLlms,
  PERSONAS_YML,
  RELEASE_NOTES_YML,
  startHarness,
} from '../support/slack-harness.js';

/** `/workflow schedule …` through Bolt's HTTP receiver with signed requests, and main's scheduler wiring. */

const DIGEST_YML = `name: digest
description: Daily digest
owners: [U0OWNER]
provider: openai
model: gpt-4o-mini
steps:
  - name: summarize
    prompt: "Summarize: {{input}}"
schedules:
  - cron: "0 9 * * 1-5"
    timezone: Europe/Berlin
    channel: C0DIGEST
`;

let h: Harness;
/** The clock of the schedule commands: the suite's instant, set by hand where a test needs a day. */
const clock = new TestClock();

beforeAll(async () => {
  h = await startHarness({
    scheduleClock: clock,
    workflows: {
      'personas.yml': PERSONAS_YML,
      'release-notes.yml': RELEASE_NOTES_YML,
      'digest.yml': DIGEST_YML,
    },
  });
  interceptLlms((call) =>
    call.provider === 'anthropic' ? anthropicBilling() : { text: `ok: ${call.prompt}` },
  );
});

afterEach(async () => {
  clock.set(TEST_NOW);
  await h.reset();
});

afterAll(async () => {
  await h?.close();
});

const say = async (text: string, user = 'U0OWNER', channel = 'C0RUNS') => {
  const ack = await h.command(text, { user, channel });
  expect(ack.status).toBe(200);
  expect(ack.text).toBe('');
  const body = await h.answer(ack);
  expect(body).toMatchObject({ response_type: 'ephemeral', replace_original: false });
  return visibleText(body);
};
const schedules = () => h.core.db.prisma.schedule.findMany({ orderBy: { number: 'asc' } });
const audit = () => h.core.db.prisma.auditEvent.findMany({ orderBy: { createdAt: 'asc' } });

describe('/workflow schedule add', () => {
  it('adds a schedule for this channel, in the zone given, with the rest as input', async () => {
    const text = await say(
      'schedule add release-notes "0 9 * * 1-5" europe/berlin yesterday’s changes\nand more',
    );
    expect(text).toContain(
      'Added schedule `#1`: *release-notes* `0 9 * * 1-5` (Europe/Berlin), runs posted in <#C0RUNS>.',
    );
    expect(text).toMatch(/Next run: \w{3}, \d{1,2} \w{3} \d{4}, 09:00 UTC\+[12]\./);
    const [row] = await schedules();
    expect(row).toMatchObject({
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Berlin',
      channelId: 'C0RUNS',
      input: 'yesterday’s changes\nand more',
      source: 'slack',
      createdBy: 'U0OWNER',
      paused: false,
    });
    expect((await audit()).map((a) => [a.actor, a.action, a.toValue])).toEqual([
      ['U0OWNER', 'schedule.add', '0 9 * * 1-5 Europe/Berlin'],
    ]);
  });

  it('takes curly quotes as Slack clients type them, and SCHEDULE_TIMEZONE when no zone is named', async () => {
    const text = await say('schedule add release-notes “30 2 * * *” notes for the night', 'U0ADMIN');
    expect(text).toContain('`30 2 * * *` (UTC)');
    expect(await schedules()).toMatchObject([
      { cron: '30 2 * * *', timezone: 'UTC', input: 'notes for the night' },
    ]);
  });

  it('answers an invalid cron expression with what is wrong, and adds nothing', async () => {
    const text = await say('schedule add release-notes "0 25 * * *" UTC');
    expect(text).toContain(
      'Invalid cron expression: "0 25 * * *": hour "25" is not valid (hour must be 0-23',
    );
    expect(text).toContain('Usage: `/workflow schedule add <name> "<cron>" [tz] [input]`');
    const six = await say('schedule add release-notes "0 0 9 * * *"');
    expect(six).toContain('seconds are not supported');
    expect(await schedules()).toEqual([]);
    expect(await audit()).toEqual([]);
  });

  it('answers an unknown time zone with the closest one, and adds nothing', async () => {
    const text = await say('schedule add release-notes "0 9 * * *" Europe/Berln');
    expect(text).toContain('Unknown time zone "Europe/Berln" — did you mean Europe/Berlin?');
    expect(await schedules()).toEqual([]);
  });

  it('asks for quotes around the cron expression, and names the closest workflow', async () => {
    expect(await say('schedule add release-notes 0 9 * * *')).toContain('Put the cron expression in quotes');
    expect(await say('schedule add relase-notes "0 9 * * *"')).toContain(
      'No workflow named `relase-notes`. Did you mean `release-notes`?',
    );
    expect(await say('schedule frobnicate')).toContain('use add, list, pause, resume or remove');
    expect(await schedules()).toEqual([]);
  });

  it('refuses someone who is not an owner or admin, and changes nothing', async () => {
    const text = await say('schedule add release-notes "0 9 * * *"', 'U0MALLORY');
    expect(text).toContain(":lock: You can't add schedules to `release-notes`");
    expect(text).toContain('<@U0OWNER>');
    expect(await schedules()).toEqual([]);
    expect(await audit()).toEqual([]);
  });
});

describe('/workflow schedule list, pause, resume, remove', () => {
  it('lists schedules with their next fire time on their own clock', async () => {
    // Monday 7 December 2026, 10:00 in New York (16:00 in Berlin): both next run on Tuesday.
    clock.set('2026-12-07T15:00:00Z');
    await say('schedule add release-notes "0 9 * * 1-5" America/New_York');
    await h.core.stores.schedules.sync({ defaultTimezone: 'UTC', now: clock.now() });
    const text = await say('schedule list', 'U0ANYONE');
    expect(text).toContain(
      '`#1` *release-notes* `0 9 * * 1-5` America/New_York → <#C0RUNS> · next Tue, 8 Dec 2026, 09:00 UTC-5 · by <@U0OWNER>',
    );
    expect(text).toContain(
      '*digest* `0 9 * * 1-5` Europe/Berlin → <#C0DIGEST> · next Tue, 8 Dec 2026, 09:00 UTC+1 · from digest.yml',
    );
    // On Friday evening in New York, the next weekday run is Monday's.
    clock.set('2026-12-11T23:30:00Z');
    expect(await say('schedule list', 'U0ANYONE')).toContain('next Mon, 14 Dec 2026, 09:00 UTC-5');
    expect(text).toContain('from digest.yml');
    expect(await say('schedule list digest')).not.toContain('release-notes');
  });

  it('pauses, resumes and removes by number, with an audit event each', async () => {
    await say('schedule add release-notes "*/15 * * * *"');
    expect(await say('schedule pause 1')).toContain('Paused schedule `#1`');
    expect((await schedules())[0]!.paused).toBe(true);
    expect(await say('schedule list')).toContain(':double_vertical_bar: paused');
    expect(await say('schedule pause #1')).toContain('Schedule #1 is already paused.');
    expect(await say('schedule resume 1', 'U0ADMIN')).toContain('Resumed schedule `#1`');
    expect((await schedules())[0]!.paused).toBe(false);
    expect(await say('schedule remove 1')).toContain('Removed schedule `#1`');
    expect(await schedules()).toEqual([]);
    expect((await audit()).map((a) => a.action)).toEqual([
      'schedule.add',
      'schedule.pause',
      'schedule.resume',
      'schedule.remove',
    ]);
    expect(await say('schedule pause 1')).toContain('No schedule 1.');
  });

  it('refuses pause, resume and remove to others and leaves the schedule as it was', async () => {
    await say('schedule add release-notes "0 9 * * *"');
    const before = await schedules();
    for (const action of ['pause', 'resume', 'remove']) {
      expect(await say(`schedule ${action} 1`, 'U0MALLORY')).toContain(
        `:lock: You can't ${action} schedules of \`release-notes\``,
      );
    }
    expect(await schedules()).toEqual(before);
    expect((await audit()).map((a) => a.action)).toEqual(['schedule.add']);
  });

  it('keeps a file schedule to its file: it can be paused here but not removed', async () => {
    await h.core.stores.schedules.sync({ defaultTimezone: 'UTC', now: clock.now() });
    const [digest] = await schedules();
    expect(await say(`schedule remove ${digest!.number}`)).toContain('is declared in');
    expect(await say(`schedule pause ${digest!.number}`)).toContain('Paused schedule');
    expect(await schedules()).toHaveLength(1);
  });
});

describe('the scheduler wired to Slack (as main.ts does)', () => {
  it('posts missed firings in the channel, and marks the alert of a timed-out paused run failed', async () => {
    await say('schedule add release-notes "0 9 * * *" UTC nightly');
    const schedule = (await schedules())[0]!;
    // The bot was down for three days: the 09:00 firings were missed.
    await h.core.db.prisma.schedule.update({
      where: { id: schedule.id },
      data: { nextFireAt: new Date(testNow().getTime() - 3 * 86_400_000) },
    });
    const clock = new TestClock({ start: testNow() });
    const cron = manualCron();
    const started = await startSchedules(h.core, {
      clock,
      cron: cron.factory,
      onNotice: (channel, text) => h.slack.notify(channel, text),
      onPauseTimeout: (event) => h.slack.alerts.pauseTimedOut(event),
    });
    try {
      await h.settle();
      const notice = await waitFor(
        () => h.stub.messagesIn('C0RUNS').find((m) => m.text.startsWith('Missed')),
        5000,
        'the missed-firings notice',
      );
      expect(notice.text).toMatch(/^Missed 3 firings of \*release-notes\* \(`0 9 \* \* \*`, UTC\)/);
      expect(notice.text).toContain('ran it once now (run #1)');

      // That run pauses on Anthropic's billing error; nobody acts for a day.
      const run = await waitFor(() =>
        h.core.db.prisma.workflowRun.findFirst({ where: { trigger: 'schedule' } }),
      );
      expect(run.requestKey).toMatch(
        new RegExp(`^schedule:${schedule.id}:\\d{4}-\\d\\d-\\d\\dT09:00:00\\.000Z$`),
      );
      await waitForRun(h.core.db, run.id, ['paused']);
      await h.settle();
      const alert = await waitFor(() => h.stub.messagesIn('C0ALERTS')[0], 5000, 'the failure alert');
      expect(visibleText(alert)).toContain('is paused');

      clock.advance(25 * 60 * 60_000);
      await started.scheduler.tick();
      await waitForRun(h.core.db, run.id, ['failed']);
      await h.settle();
      const edited = h.stub.messages.get(`${alert.channel}:${alert.ts}`)!;
      expect(visibleText(edited)).toContain('was marked failed before anyone rescued it');
      expect(visibleText(edited)).toContain('Why: Paused for');
      const { parent } = await h.thread(run.id);
      const followUp = h.stub.thread(parent.channel, parent.ts).find((m) => m.text.includes('marked failed'));
      expect(followUp?.text).toContain(`Run #${run.number} of *release-notes* (scheduled) stayed paused`);
    } finally {
      await started.stop();
    }
  });
});

describe('parseScheduleCommand', () => {
  it('reads the quoted cron, a zone-shaped word as the zone, and the rest as input', () => {
    expect(parseScheduleCommand('add digest "0 9 * * 1-5" Europe/Berlin the input')).toEqual({
      action: 'add',
      workflow: 'digest',
      cron: '0 9 * * 1-5',
      timezone: 'Europe/Berlin',
      input: 'the input',
    });
    expect(parseScheduleCommand("add digest '@daily' UTC")).toMatchObject({
      cron: '@daily',
      timezone: 'UTC',
      input: '',
    });
    expect(parseScheduleCommand('add digest @hourly hello')).toMatchObject({
      cron: '@hourly',
      input: 'hello',
    });
    expect(parseScheduleCommand('add digest "0 9 * * *" Mars/Olympus x')).toMatchObject({
      timezone: 'Mars/Olympus',
    });
    expect(parseScheduleCommand('add digest "0 9 * * *" hello world')).toEqual({
      action: 'add',
      workflow: 'digest',
      cron: '0 9 * * *',
      input: 'hello world',
    });
    expect(parseScheduleCommand('add digest')).toMatchObject({ action: 'usage' });
    expect(parseScheduleCommand('delete 4')).toEqual({ action: 'remove', ref: '4' });
    expect(parseScheduleCommand('pause')).toMatchObject({ action: 'usage' });
    expect(parseScheduleCommand('list digest')).toEqual({ action: 'list', workflow: 'digest' });
  });
});
