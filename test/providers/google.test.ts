import { describe, expect, it } from 'vitest';
import type { ErrorKind } from '../../src/core/error-kinds.js';
import { createGoogleProvider } from '../../src/providers/google.js';
import { settingsFor } from '../../src/providers/table.js';
import { describeProviderContract } from './contract.js';
import { collect, intercept, providerErrorFrom, sse, useNock } from './support.js';

const ORIGIN = 'http://gemini.test';
const MODEL = 'gemini-2.5-flash';
const PATH = /\/models\/gemini-2\.5-flash:generateContent$/;
const STREAM_PATH = /\/models\/gemini-2\.5-flash:streamGenerateContent\?alt=sse$/;
const KEY = 'AIzaSyD-SWITCHBOARDtest0000KEY0000000';
const provider = () => createGoogleProvider(settingsFor('google', { apiKey: KEY, baseUrl: ORIGIN }));

const usageMetadata = (prompt: number, candidates: number, thoughts?: number) => ({
  promptTokenCount: prompt,
  candidatesTokenCount: candidates,
  ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
  totalTokenCount: prompt + candidates + (thoughts ?? 0),
});
const response = (parts: Record<string, unknown>[], finishReason?: string, usage = usageMetadata(8, 3)) => ({
  candidates: [{ content: { role: 'model', parts }, ...(finishReason ? { finishReason } : {}), index: 0 }],
  usageMetadata: usage,
  modelVersion: MODEL,
});
type Detail = Record<string, unknown>;
const googleError = (code: number, status: string, message: string, details: Detail[] = []) => ({
  error: { code, message, status, ...(details.length ? { details } : {}) },
});
const retryInfo = (retryDelay: string): Detail => ({
  '@type': 'type.googleapis.com/google.rpc.RetryInfo',
  retryDelay,
});
const errorInfo = (reason: string): Detail => ({
  '@type': 'type.googleapis.com/google.rpc.ErrorInfo',
  reason,
  domain: 'googleapis.com',
});
const quotaFailure = (quotaId: string): Detail => ({
  '@type': 'type.googleapis.com/google.rpc.QuotaFailure',
  violations: [
    { quotaMetric: 'generativelanguage.googleapis.com/generate_content_free_tier_requests', quotaId },
  ],
});
const QUOTA_MESSAGE = 'You exceeded your current quota, please check your plan and billing details.';

useNock();

describeProviderContract({
  label: 'Google Gemini',
  origin: ORIGIN,
  generatePath: PATH,
  model: MODEL,
  apiKey: KEY,
  create: (baseUrl, apiKey) => createGoogleProvider(settingsFor('google', { apiKey, baseUrl })),
  okBody: response([{ text: 'Hello' }], 'STOP'),
  firstStreamFrames: sse([response([{ text: 'Hel' }])]),
  keyEchoReply: (apiKey) => ({
    status: 400,
    body: googleError(
      400,
      'INVALID_ARGUMENT',
      `API key not valid. Please pass a valid API key. (key=${apiKey})`,
      [errorInfo('API_KEY_INVALID')],
    ),
  }),
});

describe('Gemini adapter', () => {
  it('returns text, usage and finish reason, sending the persona as systemInstruction', async () => {
    const requests = intercept(ORIGIN, PATH, {
      status: 200,
      body: response([{ text: 'Hello there' }], 'STOP'),
    });
    const result = await provider().generate({
      model: MODEL,
      system: 'You are terse.',
      prompt: 'Hi',
      maxOutputTokens: 64,
    });
    expect(result).toEqual({
      text: 'Hello there',
      usage: { inputTokens: 8, outputTokens: 3 },
      finishReason: 'stop',
      provider: 'google',
      model: MODEL,
    });
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body).toMatchObject({
      contents: [{ role: 'user', parts: [{ text: 'Hi' }] }],
      systemInstruction: { parts: [{ text: 'You are terse.' }] },
      generationConfig: { maxOutputTokens: 64 },
    });
    expect(requests[0]!.headers.get('x-goog-api-key')).toBe(KEY);
  });

  it('leaves thought parts out of the text but counts thinking tokens as output', async () => {
    const body = response(
      [{ text: 'pondering', thought: true }, { text: 'Answer' }],
      'MAX_TOKENS',
      usageMetadata(5, 2, 7),
    );
    intercept(ORIGIN, PATH, { status: 200, body });
    const result = await provider().generate({ model: MODEL, prompt: 'Hi' });
    expect(result).toMatchObject({
      text: 'Answer',
      finishReason: 'length',
      usage: { inputTokens: 5, outputTokens: 9 },
    });
  });

  it('streams text from streamGenerateContent?alt=sse, then a done chunk with the last usage', async () => {
    const body = sse([
      response([{ text: 'Hel' }], undefined, usageMetadata(6, 1)),
      response([{ text: 'lo' }], undefined, usageMetadata(6, 2)),
      response([{ text: '' }], 'STOP', usageMetadata(6, 2)),
    ]);
    const requests = intercept(ORIGIN, STREAM_PATH, { status: 200, body });
    const chunks = await collect(provider().stream({ model: MODEL, system: 'Be brief.', prompt: 'Hi' }));
    expect(chunks).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      {
        type: 'done',
        result: {
          text: 'Hello',
          usage: { inputTokens: 6, outputTokens: 2 },
          finishReason: 'stop',
          provider: 'google',
          model: MODEL,
        },
      },
    ]);
    expect(requests[0]!.body).toMatchObject({ systemInstruction: { parts: [{ text: 'Be brief.' }] } });
  });

  it('maps an error chunk inside a stream like an HTTP error', async () => {
    const body = sse([
      response([{ text: 'Hel' }]),
      googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'),
    ]);
    intercept(ORIGIN, STREAM_PATH, { status: 200, body });
    const error = await providerErrorFrom(collect(provider().stream({ model: MODEL, prompt: 'Hi' })));
    expect(error).toMatchObject({ kind: 'overloaded', status: 503, code: 'UNAVAILABLE' });
  });

  // biome-ignore format: one row per case reads as a table
  it.each<[string, Record<string, unknown>, string]>([
    ['a blocked prompt (promptFeedback.blockReason)', { promptFeedback: { blockReason: 'PROHIBITED_CONTENT' }, usageMetadata: usageMetadata(4, 0) }, 'PROHIBITED_CONTENT'],
    ['finishReason SAFETY', response([], 'SAFETY'), 'SAFETY'],
    ['finishReason RECITATION', response([{ text: 'partial' }], 'RECITATION'), 'RECITATION'],
    ['finishReason BLOCKLIST', response([], 'BLOCKLIST'), 'BLOCKLIST'],
    ['finishReason SPII', response([], 'SPII'), 'SPII'],
  ])('raises content_filter for %s after a 200', async (_name, body, code) => {
    intercept(ORIGIN, PATH, { status: 200, body });
    const error = await providerErrorFrom(provider().generate({ model: MODEL, prompt: 'Hi' }));
    expect(error).toMatchObject({ kind: 'content_filter', code, status: undefined });
  });

  it('raises content_filter when a streamed prompt is blocked', async () => {
    intercept(ORIGIN, STREAM_PATH, {
      status: 200,
      body: sse([{ promptFeedback: { blockReason: 'SAFETY' } }]),
    });
    const error = await providerErrorFrom(collect(provider().stream({ model: MODEL, prompt: 'Hi' })));
    expect(error).toMatchObject({ kind: 'content_filter', code: 'SAFETY' });
  });

  // biome-ignore format: one row per case reads as a table
  it.each<[string, ErrorKind, number, Record<string, unknown>, string, number | undefined]>([
    ['429 with RetryInfo 17s', 'rate_limit', 429, googleError(429, 'RESOURCE_EXHAUSTED', QUOTA_MESSAGE, [quotaFailure('GenerateRequestsPerMinutePerProjectPerModel-FreeTier'), retryInfo('17s')]), 'RESOURCE_EXHAUSTED', 17_000],
    ['429 with RetryInfo 1.5s', 'rate_limit', 429, googleError(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).', [retryInfo('1.5s')]), 'RESOURCE_EXHAUSTED', 1500],
    ['429 without RetryInfo', 'rate_limit', 429, googleError(429, 'RESOURCE_EXHAUSTED', 'Resource has been exhausted (e.g. check quota).'), 'RESOURCE_EXHAUSTED', undefined],
    ['429 daily quota used up', 'quota', 429, googleError(429, 'RESOURCE_EXHAUSTED', QUOTA_MESSAGE, [quotaFailure('GenerateRequestsPerDayPerProjectPerModel-FreeTier'), retryInfo('43s')]), 'RESOURCE_EXHAUSTED', 43_000],
    ['429 billing exhausted', 'quota', 429, googleError(429, 'RESOURCE_EXHAUSTED', QUOTA_MESSAGE), 'RESOURCE_EXHAUSTED', undefined],
    ['402 prepay depleted', 'quota', 402, googleError(402, 'RESOURCE_EXHAUSTED', 'Your prepayment credits are depleted.'), 'RESOURCE_EXHAUSTED', undefined],
    ['400 FAILED_PRECONDITION', 'quota', 400, googleError(400, 'FAILED_PRECONDITION', 'User location is not supported for the API use without a billing account linked.'), 'FAILED_PRECONDITION', undefined],
    ['400 API_KEY_INVALID', 'auth', 400, googleError(400, 'INVALID_ARGUMENT', 'API key not valid. Please pass a valid API key.', [errorInfo('API_KEY_INVALID')]), 'API_KEY_INVALID', undefined],
    ['401 UNAUTHENTICATED', 'auth', 401, googleError(401, 'UNAUTHENTICATED', 'Request had invalid authentication credentials.'), 'UNAUTHENTICATED', undefined],
    ['403 PERMISSION_DENIED', 'auth', 403, googleError(403, 'PERMISSION_DENIED', "Method doesn't allow unregistered callers."), 'PERMISSION_DENIED', undefined],
    ['503 UNAVAILABLE', 'overloaded', 503, googleError(503, 'UNAVAILABLE', 'The model is overloaded. Please try again later.'), 'UNAVAILABLE', undefined],
    ['500 INTERNAL', 'server', 500, googleError(500, 'INTERNAL', 'An internal error has occurred.'), 'INTERNAL', undefined],
    ['504 DEADLINE_EXCEEDED', 'timeout', 504, googleError(504, 'DEADLINE_EXCEEDED', 'Deadline expired before operation could complete.'), 'DEADLINE_EXCEEDED', undefined],
    ['400 token limit', 'context_length', 400, googleError(400, 'INVALID_ARGUMENT', 'The input token count (1200000) exceeds the maximum number of tokens allowed (1048576).'), 'INVALID_ARGUMENT', undefined],
    ['400 INVALID_ARGUMENT', 'invalid_request', 400, googleError(400, 'INVALID_ARGUMENT', 'Invalid JSON payload received.'), 'INVALID_ARGUMENT', undefined],
    ['404 NOT_FOUND', 'invalid_request', 404, googleError(404, 'NOT_FOUND', 'models/gemini-9 is not found for API version v1beta.'), 'NOT_FOUND', undefined],
  ])(
    'maps %s to kind %s after exactly one request',
    async (_name, kind, status, body, code, retryAfterMs) => {
      const requests = intercept(ORIGIN, PATH, { status, body });
      const error = await providerErrorFrom(provider().generate({ model: MODEL, prompt: 'Hi' }));
      expect(error).toMatchObject({ kind, code, status, retryAfterMs, provider: 'google', model: MODEL });
      expect(error.message).toBe((body.error as { message: string }).message);
      expect(requests).toHaveLength(1);
    },
  );
});
