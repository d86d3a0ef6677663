import { describe, expect, it } from 'vitest';
import { CronError, CronSchedule, cronProblem } from '../../src/core/cron.js';
import { formatLocal, normalizeTimezone, resolveLocal, timezoneProblem } from '../../src/core/timezone.js';

/** Fire times in [from, to] as ISO strings. */
function firesBetween(cron: string, timezone: string, from: string, to: string): string[] {
  return new CronSchedule(cron, timezone)
    .between(new Date(from), new Date(to), 10_000)
    .recent.map((d) => d.toISOString());
}

describe('cron expressions (node-cron syntax)', () => {
  it('accepts what node-cron accepts: ranges, steps, lists, names, ?, L, W, # and shortcuts', () => {
    for (const ok of [
      '0 9 * * 1-5',
      '*/15 * * * *',
      '0 9,17 * * mon-fri',
      '0 0 1 jan,jul *',
      '0 9 ? * *',
      '0 18 L * *',
      '0 9 15W * *',
      '0 9 * * 5#2',
      '0 9 * * 5L',
      '@daily',
      '@hourly',
    ]) {
      expect(cronProblem(ok), ok).toBeUndefined();
    }
  });

  it('explains what is wrong, field by field', () => {
    expect(cronProblem('61 * * * *')).toBe(
      '"61 * * * *": minute "61" is not valid (minute must be 0-59, e.g. 0, */15 or 0-30/5)',
    );
    expect(cronProblem('0 25 * * *')).toContain('hour "25" is not valid (hour must be 0-23');
    expect(cronProblem('0 9 * 13 *')).toContain('month "13" is not valid (month must be 1-12 or jan-dec)');
    expect(cronProblem('0 9 * * 8')).toContain('day of week "8" is not valid');
    expect(cronProblem('0 9 * *')).toBe(
      '"0 9 * *" has 4 fields; expected 5 fields: minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5"',
    );
    expect(cronProblem('every day')).toContain('has 2 fields; expected 5 fields');
    expect(cronProblem('')).toContain('is empty');
    expect(cronProblem('0 9 31 2 *')).toBe(
      '"0 9 31 2 *" never fires: that day does not exist in those months',
    );
    expect(cronProblem('@fortnightly')).toContain('is not a known shortcut');
  });

  it('refuses seconds: a schedule fires at most once a minute', () => {
    expect(cronProblem('*/2 * * * * *')).toContain('has 6 fields; seconds are not supported');
    expect(() => new CronSchedule('*/2 * * * * *', 'UTC')).toThrow(CronError);
  });

  it('follows node-cron in requiring both day fields to match', () => {
    // The 13th only when it is a Friday.
    expect(firesBetween('0 12 13 * 5', 'UTC', '2026-01-01T00:00Z', '2026-12-31T00:00Z')).toEqual([
      '2026-02-13T12:00:00.000Z',
      '2026-03-13T12:00:00.000Z',
      '2026-11-13T12:00:00.000Z',
    ]);
  });

  it('reads L, W and # the way node-cron does', () => {
    expect(firesBetween('0 12 L * *', 'UTC', '2026-01-01T00:00Z', '2026-03-31T23:00Z')).toEqual([
      '2026-01-31T12:00:00.000Z',
      '2026-02-28T12:00:00.000Z',
      '2026-03-31T12:00:00.000Z',
    ]);
    // 15 Feb 2026 is a Sunday: the nearest weekday is Monday the 16th.
    expect(firesBetween('0 12 15W 2 *', 'UTC', '2026-01-01T00:00Z', '2026-12-31T00:00Z')).toEqual([
      '2026-02-16T12:00:00.000Z',
    ]);
    expect(firesBetween('0 12 * 3 1#2', 'UTC', '2026-01-01T00:00Z', '2026-12-31T00:00Z')).toEqual([
      '2026-03-09T12:00:00.000Z',
    ]);
  });

  it('fires at the wall-clock time of its zone', () => {
    const next = new CronSchedule('0 9 * * 1-5', 'America/New_York').next(new Date('2026-03-06T15:00Z'));
    // Monday 9 March, the day after New York moved to EDT (UTC-4).
    expect(next?.toISOString()).toBe('2026-03-09T13:00:00.000Z');
  });
});

describe('formatLocal', () => {
  it('writes the wall-clock time with the offset, the same on every Node build and locale', () => {
    expect(formatLocal(new Date('2026-12-08T14:00:00Z'), 'America/New_York')).toBe(
      'Tue, 8 Dec 2026, 09:00 UTC-5',
    );
    expect(formatLocal(new Date('2026-07-08T13:00:00Z'), 'America/New_York')).toBe(
      'Wed, 8 Jul 2026, 09:00 UTC-4',
    );
    expect(formatLocal(new Date('2026-01-01T03:30:00Z'), 'Asia/Kolkata')).toBe(
      'Thu, 1 Jan 2026, 09:00 UTC+5:30',
    );
    expect(formatLocal(new Date('2026-01-01T00:05:00Z'), 'UTC')).toBe('Thu, 1 Jan 2026, 00:05 UTC');
    // Kiritimati is 14 hours ahead: its Monday starts on Sunday 10:00 UTC.
    expect(formatLocal(new Date('2026-12-06T10:00:00Z'), 'Pacific/Kiritimati')).toBe(
      'Mon, 7 Dec 2026, 00:00 UTC+14',
    );
    expect(formatLocal(new Date('2026-03-01T02:00:00Z'), 'America/St_Johns')).toBe(
      'Sat, 28 Feb 2026, 22:30 UTC-3:30',
    );
  });
});

describe('daylight saving time', () => {
  it('a 02:30 schedule fires once on the spring-forward day, at 03:00 when 02:30 does not exist', () => {
    // Europe/Berlin, 29 March 2026: clocks jump from 02:00 CET to 03:00 CEST.
    const fires = firesBetween('30 2 * * *', 'Europe/Berlin', '2026-03-28T00:00Z', '2026-03-30T23:59Z');
    expect(fires).toEqual([
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first minute after the jump
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
    expect(formatLocal(new Date(fires[1]!), 'Europe/Berlin')).toBe('Sun, 29 Mar 2026, 03:00 UTC+2');
  });

  it('node-cron alone would skip it: 02:30 never shows on a Berlin clock that day', () => {
    expect(resolveLocal(2026, 3, 29, 2, 30, 'Europe/Berlin')).toEqual({
      kind: 'gap',
      after: Date.parse('2026-03-29T01:00:00Z'),
    });
  });

  it('several times inside the skipped hour still fire once, at 03:00', () => {
    const fires = firesBetween('0,20,40 2 * * *', 'Europe/Berlin', '2026-03-29T00:00Z', '2026-03-29T12:00Z');
    expect(fires).toEqual(['2026-03-29T01:00:00.000Z']);
  });

  it('a 02:30 schedule fires once on the fall-back day, the first time 02:30 comes round', () => {
    // 25 October 2026: 03:00 CEST becomes 02:00 CET, so 02:30 happens twice.
    expect(resolveLocal(2026, 10, 25, 2, 30, 'Europe/Berlin')).toEqual({
      kind: 'ambiguous',
      first: Date.parse('2026-10-25T00:30:00Z'),
      second: Date.parse('2026-10-25T01:30:00Z'),
    });
    expect(firesBetween('30 2 * * *', 'Europe/Berlin', '2026-10-24T00:00Z', '2026-10-26T23:59Z')).toEqual([
      '2026-10-24T00:30:00.000Z',
      '2026-10-25T00:30:00.000Z',
      '2026-10-26T01:30:00.000Z',
    ]);
  });

  it('an every-hour job keeps its pace in real time: no extra run in spring, both copies in autumn', () => {
    expect(firesBetween('30 * * * *', 'Europe/Berlin', '2026-03-29T00:00Z', '2026-03-29T02:59Z')).toEqual([
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:30:00.000Z', // 03:30 CEST (02:30 did not exist)
      '2026-03-29T02:30:00.000Z',
    ]);
    expect(firesBetween('30 * * * *', 'Europe/Berlin', '2026-10-25T00:00Z', '2026-10-25T02:59Z')).toEqual([
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:30:00.000Z', // 02:30 CET
      '2026-10-25T02:30:00.000Z', // 03:30 CET
    ]);
  });

  it('handles half-hour clock changes (Lord Howe Island)', () => {
    // 4 October 2026, 02:00 → 02:30: a 02:15 schedule fires at 02:30 local once.
    expect(
      firesBetween('15 2 * * *', 'Australia/Lord_Howe', '2026-10-03T12:00Z', '2026-10-04T12:00Z'),
    ).toEqual(['2026-10-03T15:30:00.000Z']);
  });
});

describe('long windows', () => {
  it('counts the firings of a long outage and still finds the latest', () => {
    const window = new CronSchedule('* * * * *', 'UTC').between(
      new Date('2025-01-01T00:00Z'),
      new Date('2026-01-01T00:00Z'),
      5,
      10_000,
    );
    expect(window.capped).toBe(true);
    expect(window.count).toBeGreaterThanOrEqual(10_000);
    expect(window.latest?.toISOString()).toBe('2026-01-01T00:00:00.000Z');
    expect(window.recent).toHaveLength(5);
  });

  it('finds rare fire times (29 February on a Monday)', () => {
    expect(new CronSchedule('0 0 29 2 1', 'UTC').next(new Date('2026-01-01T00:00Z'))?.toISOString()).toBe(
      '2044-02-29T00:00:00.000Z',
    );
  });
});

describe('time zones', () => {
  it('accepts IANA names, fixing their case, and keeps aliases as written', () => {
    expect(normalizeTimezone('Europe/Berlin')).toBe('Europe/Berlin');
    expect(normalizeTimezone('europe/berlin')).toBe('Europe/Berlin');
    expect(normalizeTimezone('UTC')).toBe('UTC');
    expect(normalizeTimezone('Asia/Calcutta')).toBe('Asia/Calcutta');
  });

  it('refuses unknown zones and fixed offsets, suggesting the zone meant', () => {
    expect(normalizeTimezone('Europe/Berln')).toBeUndefined();
    expect(normalizeTimezone('+01:00')).toBeUndefined();
    expect(timezoneProblem('Europe/Berln')).toBe(
      'unknown time zone "Europe/Berln" — did you mean Europe/Berlin? (use an IANA name such as Europe/Berlin, America/New_York or UTC)',
    );
    expect(timezoneProblem('Berlin')).toContain('did you mean Europe/Berlin?');
    expect(timezoneProblem('Mars/Olympus')).toBe(
      'unknown time zone "Mars/Olympus" (use an IANA name such as Europe/Berlin, America/New_York or UTC)',
    );
  });
});
