/**
 * The suite's calendar. A test process never runs on today's date: on import, `Date` (and
 * `Date.now()`, `new Date()`) is moved to the instant in SWITCHBOARD_TEST_NOW, or to
 * DEFAULT_TEST_NOW, and runs at real speed from there. Timers, leases, rate limits and the
 * timestamps of signed Slack requests keep working as usual; only the calendar is fixed, so
 * a schedule's "next Monday" is the same on every day the suite runs.
 *
 * Loaded by vitest before every test file (vitest.config.ts, setupFiles) and by the child
 * processes tests start, which get the parent's shift through SWITCHBOARD_TEST_OFFSET_MS
 * (testChildEnv in test/support/clock.ts): every process on the machine then reads the
 * same time, to the millisecond, however long each took to start.
 *
 * Plain JavaScript so that a child can load it without a TypeScript loader.
 */

/** Wednesday 18 November 2026, 09:30 in New York, 14:30 UTC: an ordinary working morning. */
export const DEFAULT_TEST_NOW = '2026-11-18T14:30:00.000Z';

const MARK = Symbol.for('switchboard.testDate');

function install() {
  const RealDate = globalThis.Date;
  if (RealDate[MARK] !== undefined) return RealDate[MARK];
  const offset =
    inheritedOffset() ?? startAt(process.env.SWITCHBOARD_TEST_NOW ?? DEFAULT_TEST_NOW) - RealDate.now();
  const now = () => RealDate.now() + offset;
  // A proxy, not a subclass: Date.prototype stays the same object, so `instanceof Date`
  // holds for every date, including those Node itself creates (fs.Stats, for one).
  globalThis.Date = new Proxy(RealDate, {
    construct: (target, args, newTarget) =>
      Reflect.construct(target, args.length ? args : [now()], newTarget),
    apply: () => new RealDate(now()).toString(),
    get: (target, key, receiver) => {
      if (key === 'now') return now;
      if (key === MARK) return offset;
      return Reflect.get(target, key, receiver);
    },
  });
  return offset;
}

function inheritedOffset() {
  const given = process.env.SWITCHBOARD_TEST_OFFSET_MS;
  if (given === undefined) return undefined;
  const offset = Number(given);
  if (!Number.isFinite(offset))
    throw new Error(`SWITCHBOARD_TEST_OFFSET_MS must be a number, not "${given}"`);
  return offset;
}

function startAt(wanted) {
  const start = Date.parse(wanted);
  if (Number.isNaN(start)) {
    throw new Error(
      `SWITCHBOARD_TEST_NOW must be an ISO instant such as ${DEFAULT_TEST_NOW}, not "${wanted}"`,
    );
  }
  return start;
}

/** How far this process's clock is from the machine's (0 before install). */
export function testDateOffset() {
  return globalThis.Date[MARK] ?? 0;
}

install();
