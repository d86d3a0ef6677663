import { describe, expect, it } from 'vitest';
import {
  guardCall,
  parseProtoDuration,
  parseRetryAfter,
  redactSecrets,
  sanitiseMessage,
  transportFailure,
} from '../../src/providers/error-mapping.js';

const ctx = {
  provider: 'openai' as const,
  label: 'OpenAI',
  model: 'gpt-4o-mini',
  secrets: ['plain-configured-secret'],
};

describe('Retry-After parsing', () => {
  const now = Date.parse('2026-01-01T12:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': '7' }), now)).toBe(7000);
  });

  it('reads an HTTP-date relative to now, never negative', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 12:00:30 GMT' }), now)).toBe(
      30_000,
    );
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 11:00:00 GMT' }), now)).toBe(0);
  });

  it('prefers retry-after-ms, and ignores values it cannot read', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after-ms': '1500', 'retry-after': '9' }), now)).toBe(1500);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it('reads Gemini RetryInfo durations ("12s", "1.5s")', () => {
    expect(parseProtoDuration('12s')).toBe(12_000);
    expect(parseProtoDuration('1.5s')).toBe(1500);
    expect(parseProtoDuration('0.250s')).toBe(250);
    expect(parseProtoDuration('12')).toBeUndefined();
    expect(parseProtoDuration(undefined)).toBeUndefined();
  });
});

describe('message sanitising', () => {
  it('removes keys of every provider, bearer tokens, key= parameters and the configured secret', () => {
    const raw =
      'bad sk-proj-abc123DEF456ghi and sk-ant-api03-xyzXYZ000 and AIzaSyA1234567890abcdefghij ' +
      'Authorization: Bearer eyJhbGciOi.payload https://x.googleapis.com/v1?alt=sse&key=AIzaLEAK plain-configured-secret';
    const clean = redactSecrets(raw, ctx.secrets);
    for (const secret of [
      'sk-proj-abc',
      'sk-ant-api03',
      'AIzaSyA',
      'eyJhbGciOi',
      'AIzaLEAK',
      'plain-configured-secret',
    ]) {
      expect(clean).not.toContain(secret);
    }
    expect(clean).toContain('key=[redacted]');
  });

  it('keeps messages to one line of at most 300 characters', () => {
    const clean = sanitiseMessage(`line one\n\n  line two ${'x'.repeat(1000)}`);
    expect(clean.startsWith('line one line two')).toBe(true);
    expect(clean.length).toBeLessThanOrEqual(300);
    expect(clean.endsWith('…')).toBe(true);
  });
});

describe('transport failures', () => {
  it('finds the socket error code down the cause chain of "fetch failed"', () => {
    const error = new TypeError('fetch failed', {
      cause: Object.assign(new Error('getaddrinfo'), { code: 'ENOTFOUND' }),
    });
    expect(transportFailure(error)).toEqual({ kind: 'network', code: 'ENOTFOUND' });
  });

  it('treats connect and header timeouts as timeouts', () => {
    const error = new TypeError('fetch failed', { cause: { code: 'UND_ERR_CONNECT_TIMEOUT' } });
    expect(transportFailure(error)?.kind).toBe('timeout');
  });

  it('leaves ordinary errors alone', () => {
    expect(transportFailure(new Error('boom'))).toBeUndefined();
  });
});

describe('call guard', () => {
  it('gives the SDK a later timeout than ours so that ours fires first', () => {
    const guard = guardCall(ctx, { model: 'm', prompt: 'p', timeoutMs: 1000 });
    expect(guard.sdkTimeoutMs).toBeGreaterThan(1000);
    guard.dispose();
  });

  it('reports nothing while the call is alive', () => {
    const guard = guardCall(ctx, { model: 'm', prompt: 'p', signal: new AbortController().signal });
    expect(guard.abortError()).toBeUndefined();
    expect(guard.signal.aborted).toBe(false);
    guard.dispose();
  });

  it('aborts its signal with a TimeoutError when timeoutMs passes', async () => {
    const guard = guardCall(ctx, { model: 'm', prompt: 'p', timeoutMs: 10 });
    await new Promise((resolve) => guard.signal.addEventListener('abort', resolve));
    expect((guard.signal.reason as DOMException).name).toBe('TimeoutError');
    expect(guard.abortError()).toMatchObject({
      kind: 'timeout',
      message: 'OpenAI did not answer within 10 ms',
    });
  });

  it('passes a caller abort through, as "aborted" unless its reason is a timeout', () => {
    const cancel = new AbortController();
    cancel.abort();
    expect(guardCall(ctx, { model: 'm', prompt: 'p', signal: cancel.signal }).abortError()).toMatchObject({
      kind: 'unknown',
      code: 'aborted',
      message: 'aborted',
    });
    const timedOut = new AbortController();
    timedOut.abort(new DOMException('late', 'TimeoutError'));
    expect(guardCall(ctx, { model: 'm', prompt: 'p', signal: timedOut.signal }).abortError()?.kind).toBe(
      'timeout',
    );
  });
});
