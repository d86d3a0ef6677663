import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.js';

/** The resilience variables: defaults, ranges, and a message that says how to fix them. */
describe('resilience configuration', () => {
  it('has sensible defaults', () => {
    const config = loadConfig({});
    expect(config.retryJitter).toBe(0.5);
    expect(config.stepDeadlineMs).toBe(600_000);
    expect(config.breaker).toEqual({ failureThreshold: 5, window: 6, windowMs: 600_000, cooldownMs: 30_000 });
  });

  it('reads every variable', () => {
    const config = loadConfig({
      RETRY_JITTER: '0.2',
      STEP_DEADLINE_SECONDS: '90',
      BREAKER_FAILURE_THRESHOLD: '3',
      BREAKER_WINDOW: '4',
      BREAKER_WINDOW_SECONDS: '120',
      BREAKER_COOLDOWN_SECONDS: '10',
    });
    expect(config.retryJitter).toBe(0.2);
    expect(config.stepDeadlineMs).toBe(90_000);
    expect(config.breaker).toEqual({ failureThreshold: 3, window: 4, windowMs: 120_000, cooldownMs: 10_000 });
  });

  it.each([
    ['RETRY_JITTER', '1.5', /from 0 to 1/],
    ['RETRY_JITTER', 'lots', /from 0 to 1/],
    ['STEP_DEADLINE_SECONDS', '0', /whole number from 1/],
    ['BREAKER_COOLDOWN_SECONDS', '-1', /whole number from 1/],
    ['BREAKER_WINDOW', '2.5', /whole number/],
  ])('refuses %s=%s, naming the variable', (variable, value, message) => {
    try {
      loadConfig({ [variable]: value });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as ConfigError).problems).toEqual([
        { variable, message: expect.stringMatching(message) },
      ]);
    }
  });

  it('refuses a failure threshold the window could never reach', () => {
    expect(() => loadConfig({ BREAKER_FAILURE_THRESHOLD: '7', BREAKER_WINDOW: '6' })).toThrow(
      /BREAKER_FAILURE_THRESHOLD: must not exceed BREAKER_WINDOW \(6\)/,
    );
  });
});
