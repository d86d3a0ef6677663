/**
 * Time in tests. Every test process runs on a fixed calendar (test/support/test-date.mjs):
 * `testNow()` is the current instant on it, and `TEST_NOW` the instant the suite was set to.
 * Tests that drive time by hand start their manual clocks there, never at today's date.
 */

// Loads the shifted Date before anything below reads it (vitest has already loaded it too).
import { DEFAULT_TEST_NOW, testDateOffset } from './test-date.mjs';

/** The instant this test process's clock was set to (SWITCHBOARD_TEST_NOW, else a fixed Wednesday). */
export const TEST_NOW = new Date(process.env.SWITCHBOARD_TEST_NOW ?? DEFAULT_TEST_NOW);

/** Now, on the suite's calendar (it moves at real speed from TEST_NOW). */
export function testNow(): Date {
  return new Date();
}

/**
 * The environment a child process needs to share this process's calendar: the same shift
 * from the machine's clock, so both read the same time (the child loads test-date.mjs).
 */
export function testChildEnv(): Record<string, string> {
  return { SWITCHBOARD_TEST_OFFSET_MS: String(testDateOffset()) };
}

/** The `--import` that puts a child process on the suite's calendar. */
export const TEST_DATE_IMPORT = new URL('./test-date.mjs', import.meta.url).pathname;
