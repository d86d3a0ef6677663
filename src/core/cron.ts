import { type ParsedFields, parse, validateDetailed } from 'node-cron';
import { localParts, offsetMs, resolveLocal } from './timezone.js';

/**
 * Cron expressions in node-cron's syntax and the instants they fire at in a time zone.
 *
 * node-cron parses and validates (so "node-cron syntax" means exactly what node-cron
 * accepts), but its own next-time walk matches wall-clock readings only: on a
 * spring-forward day a 02:30 schedule never matches (02:30 does not exist) and on a
 * fall-back day it matches twice. Schedules follow the rule Vixie cron made familiar
 * instead (see docs/schedules.md):
 * - a job with fixed hours whose time falls in the skipped hour fires once, at the first
 *   minute after the jump (02:30 Europe/Berlin on 2026-03-29 fires at 03:00 CEST);
 * - a job with fixed hours whose time happens twice fires once, the first time;
 * - a job that runs every hour (`*` in the hour field) keeps its pace in real time: it
 *   skips minutes that do not exist and runs in both copies of a repeated hour.
 * Fire times are whole minutes in UTC; that instant is the firing's identity.
 */

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
/** Long enough for "29 February on a Monday" (28 years); a walk with no match ends here. */
const MAX_IDLE_DAYS = 366 * 30;

const FIELD_HELP: Record<string, string> = {
  second: 'seconds',
  minute: 'minute must be 0-59, e.g. 0, */15 or 0-30/5',
  hour: 'hour must be 0-23, e.g. 9, 9-17 or */2',
  dayOfMonth: 'day of month must be 1-31 (or L, 15W, L-2)',
  month: 'month must be 1-12 or jan-dec',
  dayOfWeek: 'day of week must be 0-7 or sun-sat (0 and 7 are Sunday), e.g. 1-5',
};

const FORMAT_HINT = '5 fields: minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5"';

/** Why `expression` is not a usable schedule; undefined when it is one. */
export function cronProblem(expression: string): string | undefined {
  if (typeof expression !== 'string' || expression.trim() === '') return `is empty; expected ${FORMAT_HINT}`;
  const shown = `"${expression}"`;
  const fields = expression.trim().startsWith('@') ? [expression.trim()] : expression.trim().split(/\s+/);
  if (fields.length === 6) {
    return `${shown} has 6 fields; seconds are not supported (schedules fire at most once a minute) — use ${FORMAT_HINT}`;
  }
  if (fields.length !== 5 && !(fields.length === 1 && fields[0]!.startsWith('@'))) {
    return `${shown} has ${fields.length} field${fields.length === 1 ? '' : 's'}; expected ${FORMAT_HINT}`;
  }
  const result = validateDetailed(expression);
  if (result.valid) return undefined;
  const first = result.errors[0]!;
  if (first.field === 'expression') {
    if (expression.trim().startsWith('@'))
      return `${shown} is not a known shortcut (use @hourly, @daily, @weekly, @monthly or @yearly)`;
    return `${shown} ${first.message.replace(/^pattern /, '')}; expected ${FORMAT_HINT}`;
  }
  if (first.message.includes('impossible day')) {
    return `${shown} never fires: that day does not exist in those months`;
  }
  return `${shown}: ${first.field === 'dayOfWeek' ? 'day of week' : first.field === 'dayOfMonth' ? 'day of month' : first.field} "${first.value ?? ''}" is not valid (${FIELD_HELP[first.field] ?? FORMAT_HINT})`;
}

export class CronError extends Error {
  override name = 'CronError';
}

export class CronSchedule {
  private readonly fields: ParsedFields;
  private readonly hours: number[];
  private readonly minutes: number[];
  /** `*` in the hour field: the job keeps its pace across clock changes. */
  private readonly everyHour: boolean;

  constructor(
    readonly expression: string,
    readonly timezone: string,
  ) {
    const problem = cronProblem(expression);
    if (problem) throw new CronError(problem);
    this.fields = parse(expression);
    this.hours = [...new Set(this.fields.hour)].sort((a, b) => a - b);
    this.minutes = [...new Set(this.fields.minute)].sort((a, b) => a - b);
    this.everyHour = this.hours.length === 24;
  }

  /**
   * The shortest time between two firings, in minutes, read from the minute and hour fields
   * (assuming every day may fire, so never more than a day): every fifth minute → 5,
   * `0,10 9 * * *` → 10, `0 9,10 * * *` → 60, `0 9 * * 1` → 1440. A floor on how often a
   * schedule may spend, checked when one is made (SCHEDULE_MIN_INTERVAL_MINUTES).
   */
  shortestGapMinutes(): number {
    const m = this.minutes;
    const h = this.hours;
    let gap = 24 * 60;
    for (let i = 1; i < m.length; i++) gap = Math.min(gap, m[i]! - m[i - 1]!);
    // From the last firing of one hour to the first of the next hour that fires (the next day's
    // first hour after the last one).
    for (let i = 0; i < h.length; i++) {
      const next = i + 1 < h.length ? h[i + 1]! : h[0]! + 24;
      gap = Math.min(gap, (next - h[i]!) * 60 + m[0]! - m.at(-1)!);
    }
    return gap;
  }

  /** The first fire time strictly after `after`, or undefined if it never fires again. */
  next(after: Date): Date | undefined {
    for (const at of this.fireTimes(after)) return at;
    return undefined;
  }

  /** Fire times strictly after `after`, in order. */
  *fireTimes(after: Date): Generator<Date> {
    const afterMs = after.getTime();
    // Start a day early: around a clock change a local day can begin before `after`'s.
    let { year, month, day } = localParts(afterMs - DAY_MS, this.timezone);
    for (let idle = 0; idle < MAX_IDLE_DAYS; idle++) {
      if (this.matchesDay(year, month, day)) {
        for (const at of this.timesOn(year, month, day)) {
          if (at > afterMs) {
            idle = 0;
            yield new Date(at);
          }
        }
      }
      ({ year, month, day } = nextDay(year, month, day));
    }
  }

  /**
   * Fire times in [from, to]: how many, the latest, and the last `keep` of them (oldest
   * first). Past `limit` it stops counting (`capped`) and skips to the last two days, so a
   * long outage of an every-minute schedule stays cheap.
   */
  between(from: Date, to: Date, keep = 100, limit = 200_000): FireWindow {
    const recent: Date[] = [];
    const toMs = to.getTime();
    let count = 0;
    let capped = false;
    let cursor = new Date(from.getTime() - 1);
    walk: for (;;) {
      for (const at of this.fireTimes(cursor)) {
        if (at.getTime() > toMs) break walk;
        count++;
        recent.push(at);
        if (recent.length > keep) recent.shift();
        if (!capped && count >= limit && toMs - at.getTime() > 2 * DAY_MS) {
          // Years of an every-minute schedule: stop counting, but still find the latest.
          capped = true;
          cursor = new Date(toMs - 2 * DAY_MS);
          continue walk;
        }
      }
      break;
    }
    return { count, latest: recent.at(-1), recent, capped };
  }

  private matchesDay(year: number, month: number, day: number): boolean {
    if (!this.fields.month.includes(month)) return false;
    const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay();
    // node-cron requires both day fields to match (classic cron accepts either).
    return (
      matchesDayOfMonth(this.fields.dayOfMonth, year, month, day) &&
      matchesDayOfWeek(this.fields.dayOfWeek, year, month, day, weekday)
    );
  }

  /** This day's fire times as UTC milliseconds, in order. */
  private timesOn(year: number, month: number, day: number): number[] {
    const midnight = Date.UTC(year, month - 1, day);
    const offset = offsetMs(midnight - 14 * HOUR_MS, this.timezone);
    const out: number[] = [];
    if (offset === offsetMs(midnight + 38 * HOUR_MS, this.timezone)) {
      // No clock change near this day (the common case): plain arithmetic.
      for (const hour of this.hours)
        for (const minute of this.minutes) out.push(Date.UTC(year, month - 1, day, hour, minute) - offset);
      return out;
    }
    for (const hour of this.hours) {
      for (const minute of this.minutes) {
        const at = resolveLocal(year, month, day, hour, minute, this.timezone);
        if (at.kind === 'exact') out.push(at.at);
        else if (at.kind === 'ambiguous') {
          out.push(at.first);
          if (this.everyHour) out.push(at.second);
        } else if (!this.everyHour) out.push(at.after);
      }
    }
    return [...new Set(out)].sort((a, b) => a - b);
  }
}

export interface FireWindow {
  count: number;
  latest: Date | undefined;
  recent: Date[];
  capped: boolean;
}

function nextDay(year: number, month: number, day: number) {
  const d = new Date(Date.UTC(year, month - 1, day + 1));
  return { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() };
}

// Day-of-month and day-of-week tokens as node-cron defines them (L, 15W, LW, L-2, 5#3, 5L).
function lastDayOfMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

function nearestWeekday(year: number, month: number, target: number): number {
  const last = lastDayOfMonth(year, month);
  if (target < 1 || target > last) return -1;
  const weekday = new Date(Date.UTC(year, month - 1, target)).getUTCDay();
  if (weekday === 6) return target === 1 ? target + 2 : target - 1;
  if (weekday === 0) return target === last ? target - 2 : target + 1;
  return target;
}

function matchesDayOfMonth(field: (number | string)[], year: number, month: number, day: number): boolean {
  const last = lastDayOfMonth(year, month);
  return field.some((value) => {
    if (value === day) return true;
    if (typeof value !== 'string') return false;
    if (value === 'L') return day === last;
    const weekdayToken = /^(\d{1,2}|L)W$/.exec(value);
    if (weekdayToken) {
      const target = weekdayToken[1] === 'L' ? last : Number(weekdayToken[1]);
      return nearestWeekday(year, month, target) === day;
    }
    const offset = /^L-(\d{1,2})$/.exec(value);
    return offset ? last - Number(offset[1]) === day : false;
  });
}

function matchesDayOfWeek(
  field: (number | string)[],
  year: number,
  month: number,
  day: number,
  weekday: number,
): boolean {
  return field.some((value) => {
    if (value === weekday) return true;
    if (typeof value !== 'string') return false;
    const nth = /^([0-7])#([1-5])$/.exec(value);
    if (nth) return Number(nth[1]) % 7 === weekday && Math.floor((day - 1) / 7) + 1 === Number(nth[2]);
    const lastOf = /^([0-7])L$/i.exec(value);
    return lastOf ? Number(lastOf[1]) % 7 === weekday && day + 7 > lastDayOfMonth(year, month) : false;
  });
}
