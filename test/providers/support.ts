import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import nock from 'nock';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { ProviderError } from '../../src/core/provider-spec.js';

/**
 * Test plumbing shared by the provider suites: nock on, internet off, a request recorder
 * that proves one HTTP request per call, and a local server for mid-stream stalls.
 */

export function useNock(): void {
  beforeAll(() => {
    nock.disableNetConnect();
    // Only the local stalling server below; never the internet.
    nock.enableNetConnect('127.0.0.1');
  });
  afterEach(() => {
    nock.cleanAll();
  });
  afterAll(() => {
    nock.enableNetConnect();
  });
}

export interface Recorded {
  path: string;
  headers: Headers;
  body: Record<string, unknown>;
}

export interface Reply {
  status: number;
  body: string | Record<string, unknown>;
  headers?: Record<string, string>;
  /** Hold the response headers back this long (nock's own .delay() only delays the body). */
  delayMs?: number;
}

/**
 * Intercepts every POST to `origin` matching `path` and records it. The interceptor
 * persists, so an SDK retry would be answered and counted rather than fail differently:
 * `requests.length === 1` is the proof that SDK retries are off.
 */
export function intercept(origin: string, path: RegExp, reply: Reply): Recorded[] {
  const requests: Recorded[] = [];
  nock(origin)
    .post(path)
    // nock 15 passes the fetch Request; a 2-argument function would be taken as callback-style.
    .reply(async (req: Request) => {
      const text = await req.text();
      requests.push({
        path: new URL(req.url).pathname + new URL(req.url).search,
        headers: req.headers,
        body: JSON.parse(text),
      });
      if (reply.delayMs) await new Promise((resolve) => setTimeout(resolve, reply.delayMs));
      const isJson = typeof reply.body !== 'string';
      return [
        reply.status,
        reply.body,
        { 'content-type': isJson ? 'application/json' : 'text/event-stream', ...reply.headers },
      ];
    })
    .persist();
  return requests;
}

/**
 * nock 15 hangs forever on replyWithError({ code }) with a plain object under fetch;
 * an Error instance is delivered as undici's `TypeError: fetch failed` with this cause.
 */
export function interceptNetworkError(origin: string, path: RegExp, code = 'ECONNRESET'): void {
  nock(origin)
    .post(path)
    .replyWithError(Object.assign(new Error(`socket hang up (${code})`), { code }));
}

/** Server-sent events body: one `data:` frame per object (plus an `event:` line when given). */
export function sse(
  frames: (Record<string, unknown> | string | [event: string, data: Record<string, unknown>])[],
): string {
  return frames
    .map((frame) => {
      if (Array.isArray(frame)) return `event: ${frame[0]}\ndata: ${JSON.stringify(frame[1])}\n\n`;
      return `data: ${typeof frame === 'string' ? frame : JSON.stringify(frame)}\n\n`;
    })
    .join('');
}

/**
 * A real server on 127.0.0.1 that sends the first SSE bytes and then never finishes.
 * Aborting a nock-mocked body mid-stream trips an internal undici assertion
 * (`assert(!this.aborted)`, via @mswjs/interceptors' socket layer), so stalls use this.
 */
export async function stallingServer(firstBytes: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(firstBytes);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Awaits a call that must fail and returns its ProviderError. */
export async function providerErrorFrom(
  call: Promise<unknown> | (() => Promise<unknown>),
): Promise<ProviderError> {
  try {
    await (typeof call === 'function' ? call() : call);
  } catch (error) {
    expect(error).toBeInstanceOf(ProviderError);
    return error as ProviderError;
  }
  throw new Error('expected the call to fail with a ProviderError');
}

/** Drains a stream into its chunks, failing with the stream's own error. */
export async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}
