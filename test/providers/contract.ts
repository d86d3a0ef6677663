import { describe, expect, it } from 'vitest';
import type { Provider } from '../../src/core/provider-spec.js';
import {
  intercept,
  interceptNetworkError,
  providerErrorFrom,
  type Reply,
  stallingServer,
} from './support.js';

/**
 * What every adapter must do regardless of provider: honour timeouts and cancellation,
 * report network failures, make exactly one request per call and never leak the key.
 * Each provider suite runs this with its own wire format.
 */
export interface ContractHarness {
  label: string;
  origin: string;
  generatePath: RegExp;
  model: string;
  /** A key shaped like the provider's real ones, distinctive enough to grep for. */
  apiKey: string;
  create(baseUrl: string, apiKey: string): Provider;
  /** A successful non-streaming response body. */
  okBody: Record<string, unknown>;
  /** The first SSE frame(s) of a streamed answer whose text is "Hel". */
  firstStreamFrames: string;
  /** An auth error whose body quotes the key back, as some gateways and proxies do. */
  keyEchoReply(apiKey: string): Reply;
}

export function describeProviderContract(h: ContractHarness): void {
  const request = { model: h.model, prompt: 'Say hello' };

  describe(`${h.label} adapter contract`, () => {
    it('turns its own timeoutMs into a timeout error, after a single request', async () => {
      // The reply would come far later than the timeout: a timeout error (not a success)
      // proves our own timer ended the call. No wall-clock assertion: CI machines are loaded.
      // The timeout leaves a loaded machine ample time to send the request first.
      const requests = intercept(h.origin, h.generatePath, { status: 200, body: h.okBody, delayMs: 20_000 });
      const provider = h.create(h.origin, h.apiKey);
      const error = await providerErrorFrom(provider.generate({ ...request, timeoutMs: 1500 }));
      expect(error).toMatchObject({
        kind: 'timeout',
        provider: provider.id,
        code: 'timeout',
        retryable: true,
      });
      expect(requests).toHaveLength(1);
    });

    it('reports a caller abort as "aborted" (kind unknown), not as a timeout', async () => {
      intercept(h.origin, h.generatePath, { status: 200, body: h.okBody, delayMs: 400 });
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 30);
      const error = await providerErrorFrom(
        h.create(h.origin, h.apiKey).generate({ ...request, signal: controller.signal }),
      );
      expect(error).toMatchObject({ kind: 'unknown', code: 'aborted', message: 'aborted', retryable: false });
    });

    it('reports a caller abort whose reason is a TimeoutError as a timeout', async () => {
      intercept(h.origin, h.generatePath, { status: 200, body: h.okBody, delayMs: 400 });
      const error = await providerErrorFrom(
        h.create(h.origin, h.apiKey).generate({ ...request, signal: AbortSignal.timeout(30) }),
      );
      expect(error.kind).toBe('timeout');
    });

    it('reports a reset connection as a retryable network error naming the socket error', async () => {
      interceptNetworkError(h.origin, h.generatePath, 'ECONNRESET');
      const error = await providerErrorFrom(h.create(h.origin, h.apiKey).generate(request));
      expect(error).toMatchObject({ kind: 'network', code: 'ECONNRESET', retryable: true });
      expect(error.message).toContain(h.label);
    });

    it('reports a refused connection to a real closed port as a network error', async () => {
      const server = await stallingServer('');
      await server.close();
      const error = await providerErrorFrom(h.create(server.url, h.apiKey).generate(request));
      expect(error).toMatchObject({ kind: 'network', code: 'ECONNREFUSED' });
    });

    it('times out a stream that stalls after its first chunk, keeping the text already sent', async () => {
      const server = await stallingServer(h.firstStreamFrames);
      try {
        const chunks: string[] = [];
        const error = await providerErrorFrom(async () => {
          for await (const chunk of h.create(server.url, h.apiKey).stream({ ...request, timeoutMs: 300 })) {
            if (chunk.type === 'text') chunks.push(chunk.text);
          }
        });
        expect(chunks.join('')).toBe('Hel');
        expect(error.kind).toBe('timeout');
      } finally {
        await server.close();
      }
    });

    it('never puts the API key in the error, even when the provider echoes it back', async () => {
      const requests = intercept(h.origin, h.generatePath, h.keyEchoReply(h.apiKey));
      const error = await providerErrorFrom(h.create(h.origin, h.apiKey).generate(request));
      expect(error.kind).toBe('auth');
      for (const text of [error.message, JSON.stringify(error), String(error.stack), String(error.code)]) {
        expect(text).not.toContain(h.apiKey);
        expect(text).not.toMatch(/Bearer\s+\w/);
      }
      expect(error.cause).toBeUndefined();
      expect(error.message.length).toBeLessThanOrEqual(300);
      // The key did go out, in the provider's own auth header: the redaction is ours.
      expect([...requests[0]!.headers.values()].join(' ')).toContain(h.apiKey);
    });
  });
}
