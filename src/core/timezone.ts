import { nearest } from './suggest.js';

/**
 * IANA time zones through Intl, the only time-zone database Node ships: validation with a
 * "did you mean", wall-clock parts of an instant, and the instant(s) of a wall-clock time —
 * which, around a daylight-saving change, may not exist or may exist twice.
 */

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

const partsFormatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timezone: string): Intl.DateTimeFormat {
  let formatter = partsFormatters.get(timezone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone: timezone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    partsFormatters.set(timezone, formatter);
  }
  return formatter;
}

/**
 * The zone's name as stored: Intl's own spelling when only the case differs
 * ("europe/berlin" → "Europe/Berlin"), the name as written for an alias ("Asia/Calcutta"),
 * undefined when Intl does not know it. Fixed offsets ("+01:00") are refused: they have
 * no daylight saving and are almost always a mistake for a place.
 */
export function normalizeTimezone(name: string): string | undefined {
  const trimmed = name.trim();
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(trimmed)) return undefined;
  try {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: trimmed }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === trimmed.toLowerCase() ? resolved : trimmed;
  } catch {
    return undefined;
  }
}

export function isValidTimezone(name: string): boolean {
  return normalizeTimezone(name) !== undefined;
}

/** Why `name` is not a time zone, with the nearest known one; undefined when it is one. */
export function timezoneProblem(name: string): string | undefined {
  if (normalizeTimezone(name) !== undefined) return undefined;
  const known = Intl.supportedValuesOf('timeZone');
  const guess =
    known.find((z) => z.toLowerCase().endsWith(`/${name.trim().toLowerCase()}`)) ??
    nearest(name.trim(), known);
  const hint = guess ? ` — did you mean ${guess}?` : '';
  return `unknown time zone "${name}"${hint} (use an IANA name such as Europe/Berlin, America/New_York or UTC)`;
}

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** The wall-clock date and time at `ms` in `timezone`. */
export function localParts(ms: number, timezone: string): LocalParts {
  const out: Record<string, number> = {};
  for (const part of formatterFor(timezone).formatToParts(new Date(ms))) {
    if (part.type !== 'literal') out[part.type] = Number(part.value);
  }
  return {
    year: out.year!,
    month: out.month!,
    day: out.day!,
    hour: out.hour! % 24,
    minute: out.minute!,
    second: out.second!,
  };
}

/** How far the zone's wall clock is ahead of UTC at `ms` (negative west of Greenwich). */
export function offsetMs(ms: number, timezone: string): number {
  const p = localParts(ms, timezone);
  const wall = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** Where a wall-clock minute falls on the timeline. */
export type LocalResolution =
  | { kind: 'exact'; at: number }
  /** Clocks went back: the minute happened twice (first, then second). */
  | { kind: 'ambiguous'; first: number; second: number }
  /** Clocks went forward over it: `after` is the first instant after the jump. */
  | { kind: 'gap'; after: number };

export function resolveLocal(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  timezone: string,
): LocalResolution {
  const wall = Date.UTC(year, month - 1, day, hour, minute);
  // No zone is more than 14 hours from UTC, so the offsets on either side of this window
  // are every offset the wall time can have.
  const before = offsetMs(wall - 14 * HOUR_MS, timezone);
  const after = offsetMs(wall + 14 * HOUR_MS, timezone);
  const candidates = [...new Set([wall - before, wall - after])]
    .filter((ms) => readsAs(ms, timezone, year, month, day, hour, minute))
    .sort((a, b) => a - b);
  if (candidates.length === 2) return { kind: 'ambiguous', first: candidates[0]!, second: candidates[1]! };
  if (candidates.length === 1) return { kind: 'exact', at: candidates[0]! };
  // In the gap: the jump lies between the two readings; find its minute.
  let low = Math.min(wall - before, wall - after);
  let high = Math.max(wall - before, wall - after);
  const offsetLow = offsetMs(low, timezone);
  while (high - low > MINUTE_MS) {
    const mid = low + Math.floor((high - low) / 2 / MINUTE_MS) * MINUTE_MS;
    if (offsetMs(mid, timezone) === offsetLow) low = mid;
    else high = mid;
  }
  return { kind: 'gap', after: high };
}

function readsAs(
  ms: number,
  timezone: string,
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
): boolean {
  const p = localParts(ms, timezone);
  return p.year === year && p.month === month && p.day === day && p.hour === hour && p.minute === minute;
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** "UTC", "UTC+2", "UTC-5", "UTC+5:30": the zone's offset at that instant. */
export function formatOffset(offset: number): string {
  if (offset === 0) return 'UTC';
  const minutes = Math.round(Math.abs(offset) / MINUTE_MS);
  const hours = Math.floor(minutes / 60);
  const rest = minutes % 60;
  return `UTC${offset < 0 ? '-' : '+'}${hours}${rest ? `:${String(rest).padStart(2, '0')}` : ''}`;
}

/**
 * "Mon, 30 Mar 2026, 09:00 UTC+2" — for notices and lists. Built from the wall-clock parts
 * and the offset, not from Intl's zone names: those ("CEST", "GMT-5", "EST") differ with
 * the locale and with the ICU data a Node build ships, and an offset says the same to
 * everyone. The IANA name is shown beside it wherever the zone matters.
 */
export function formatLocal(date: Date, timezone: string): string {
  const ms = date.getTime();
  const p = localParts(ms, timezone);
  const weekday = WEEKDAYS[new Date(Date.UTC(p.year, p.month - 1, p.day)).getUTCDay()];
  const time = `${String(p.hour).padStart(2, '0')}:${String(p.minute).padStart(2, '0')}`;
  return `${weekday}, ${p.day} ${MONTHS[p.month - 1]} ${p.year}, ${time} ${formatOffset(offsetMs(ms, timezone))}`;
}
