import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';
import { loadWorkflowDir } from '../../src/workflows/loader.js';
import { fakeCatalogue, workflowDir, workflowYml } from '../workflows/fixtures.js';

/** Loads release-notes.yml with `schedules` appended; returns the problems as printed. */
async function load(schedules: string) {
  const dir = workflowDir({ 'release-notes.yml': `${workflowYml('release-notes')}schedules:\n${schedules}` });
  const result = await loadWorkflowDir(dir, fakeCatalogue());
  return {
    workflow: result.workflows[0],
    problems: result.errors.map((e) => e.toString().replace(`${dir}/`, '')),
  };
}

describe('schedules in workflow files', () => {
  it('reads every field into a typed definition', async () => {
    const { workflow, problems } = await load(
      [
        '  - cron: "0 9 * * 1-5"',
        '    timezone: Europe/Berlin',
        '    channel: C0DIGEST',
        '    input: "yesterday\'s incidents"',
        '    overlap: queue',
        '    missed: skip',
        '    pause_timeout_minutes: 90',
        '  - cron: "@weekly"',
        '    channel: G0PRIVATE',
      ].join('\n'),
    );
    expect(problems).toEqual([]);
    expect(workflow?.schedules).toEqual([
      {
        cron: '0 9 * * 1-5',
        timezone: 'Europe/Berlin',
        channel: 'C0DIGEST',
        input: "yesterday's incidents",
        overlap: 'queue',
        missed: 'skip',
        pauseTimeoutMinutes: 90,
      },
      {
        cron: '@weekly',
        timezone: undefined,
        channel: 'G0PRIVATE',
        input: '',
        overlap: 'skip',
        missed: 'run_once',
        pauseTimeoutMinutes: undefined,
      },
    ]);
  });

  it('an invalid cron is a load-time error naming the file and the path', async () => {
    const { workflow, problems } = await load('  - cron: "0 25 * * *"\n    channel: C0DIGEST\n');
    expect(workflow).toBeUndefined();
    expect(problems).toEqual([
      'release-notes.yml: schedules[0].cron: "0 25 * * *": hour "25" is not valid (hour must be 0-23, e.g. 9, 9-17 or */2)',
    ]);
  });

  it('an unknown time zone is a load-time error with the zone meant', async () => {
    const { problems } = await load(
      '  - cron: "0 9 * * *"\n    channel: C0DIGEST\n  - cron: "0 9 * * *"\n    timezone: Europe/Berln\n    channel: C0DIGEST\n',
    );
    expect(problems).toEqual([
      'release-notes.yml: schedules[1].timezone: unknown time zone "Europe/Berln" — did you mean Europe/Berlin? (use an IANA name such as Europe/Berlin, America/New_York or UTC)',
    ]);
  });

  it('seconds, missing channels, bad policies and typos are each named', async () => {
    const { problems } = await load(
      [
        '  - cron: "*/2 * * * * *"',
        '    channel: C0DIGEST',
        '  - cron: "0 9 * * *"',
        '  - cron: "0 9 * * *"',
        '    channel: "#general"',
        '    overlap: parallel',
        '    missed: catch_up',
        '    pause_timeout: 5',
      ].join('\n'),
    );
    expect(problems).toEqual([
      'release-notes.yml: schedules[0].cron: "*/2 * * * * *" has 6 fields; seconds are not supported (schedules fire at most once a minute) — use 5 fields: minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5"',
      'release-notes.yml: schedules[1].channel: is required: the Slack channel id the runs are posted in, e.g. C0DIGEST',
      'release-notes.yml: schedules[2].channel: must be a Slack channel id such as C0DIGEST (a #name can be renamed)',
      'release-notes.yml: schedules[2].overlap: must be skip (the default) or queue',
      'release-notes.yml: schedules[2].missed: must be run_once (the default) or skip',
      'release-notes.yml: schedules[2].pause_timeout: unknown field "pause_timeout" — did you mean "pause_timeout_minutes"? (allowed: cron, timezone, channel, input, overlap, missed, pause_timeout_minutes)',
    ]);
  });

  it('an unquoted number is refused', async () => {
    const { problems } = await load('  - cron: "0 9 * * *"\n    channel: C0DIGEST\n    input: 42\n');
    expect(problems).toEqual(['release-notes.yml: schedules[0].input: must be text (quote it)']);
  });

  it('the same schedule twice is refused', async () => {
    const { problems } = await load(
      '  - cron: "0 9 * * *"\n    channel: C0DIGEST\n  - cron: "0 9 * * *"\n    channel: C0DIGEST\n',
    );
    expect(problems).toEqual(['release-notes.yml: schedules[1]: same as schedules[0]']);
  });
});

describe('schedule settings in the environment', () => {
  it('default to UTC, a one-day pause timeout and five minutes between firings of Slack-made schedules', () => {
    expect(loadConfig({}).schedules).toEqual({
      timezone: 'UTC',
      pauseTimeoutMinutes: 1440,
      minIntervalMinutes: 5,
    });
    expect(
      loadConfig({
        SCHEDULE_TIMEZONE: 'europe/berlin',
        SCHEDULE_PAUSE_TIMEOUT_MINUTES: '0',
        SCHEDULE_MIN_INTERVAL_MINUTES: '60',
      }).schedules,
    ).toEqual({ timezone: 'Europe/Berlin', pauseTimeoutMinutes: 0, minIntervalMinutes: 60 });
  });

  it('name the variable and the fix when wrong', () => {
    const problems = (env: Record<string, string>) => {
      try {
        loadConfig(env);
      } catch (error) {
        return (error as ConfigError).problems;
      }
      return [];
    };
    expect(problems({ SCHEDULE_TIMEZONE: 'Europe/Berln' })).toEqual([
      {
        variable: 'SCHEDULE_TIMEZONE',
        message:
          'unknown time zone "Europe/Berln" — did you mean Europe/Berlin? (use an IANA name such as Europe/Berlin, America/New_York or UTC)',
      },
    ]);
    expect(problems({ SCHEDULE_PAUSE_TIMEOUT_MINUTES: '-5' })[0]?.variable).toBe(
      'SCHEDULE_PAUSE_TIMEOUT_MINUTES',
    );
    expect(() => loadConfig({ SCHEDULE_PAUSE_TIMEOUT_MINUTES: 'soon' })).toThrow(ConfigError);
  });
});
