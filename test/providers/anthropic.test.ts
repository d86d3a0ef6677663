import { describe, expect, it } from 'vitest';
import type { ErrorKind } from '../../src/core/error-kinds.js';
import { createAnthropicProvider } from '../../src/providers/anthropic.js';
import { settingsFor } from '../../src/providers/table.js';
import { describeProviderContract } from './contract.js';
import { collect, intercept, providerErrorFrom, sse, useNock } from './support.js';

const ORIGIN = 'http://anthropic.test';
const PATH = /^\/v1\/messages$/;
const KEY = 'sk-ant-api03-SWITCHBOARDtest0000KEY';
const MODEL = 'claude-haiku-4-5';
const provider = () => createAnthropicProvider(settingsFor('anthropic', { apiKey: KEY, baseUrl: ORIGIN }));

const usage = (input: number, output: number) => ({
  input_tokens: input,
  output_tokens: output,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});
const message = (text: string, stop_reason = 'end_turn') => ({
  id: 'msg_01',
  type: 'message',
  role: 'assistant',
  model: MODEL,
  content: text ? [{ type: 'text', text }] : [],
  stop_reason,
  stop_sequence: null,
  usage: usage(14, 4),
});
const anthropicError = (type: string, text: string, details?: Record<string, unknown>) => ({
  type: 'error',
  error: { type, message: text, ...(details ? { details } : {}) },
  request_id: 'req_011',
});
const start = [
  'message_start',
  { type: 'message_start', message: { ...message(''), stop_reason: null, usage: usage(11, 1) } },
] as [string, Record<string, unknown>];
const delta = (text: string) =>
  ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }] as [
    string,
    Record<string, unknown>,
  ];

useNock();

describeProviderContract({
  label: 'Anthropic',
  origin: ORIGIN,
  generatePath: PATH,
  model: MODEL,
  apiKey: KEY,
  create: (baseUrl, apiKey) => createAnthropicProvider(settingsFor('anthropic', { apiKey, baseUrl })),
  okBody: message('Hello'),
  firstStreamFrames: sse([start, delta('Hel')]),
  keyEchoReply: (apiKey) => ({
    status: 401,
    body: anthropicError('authentication_error', `invalid x-api-key: ${apiKey}`),
  }),
});

describe('Anthropic adapter', () => {
  it('returns text, usage and a normalised stop reason, sending the persona as `system`', async () => {
    const requests = intercept(ORIGIN, PATH, { status: 200, body: message('Hello there') });
    const result = await provider().generate({ model: MODEL, system: 'You are terse.', prompt: 'Hi' });
    expect(result).toEqual({
      text: 'Hello there',
      usage: { inputTokens: 14, outputTokens: 4 },
      finishReason: 'stop',
      provider: 'anthropic',
      model: MODEL,
    });
    expect(requests).toHaveLength(1);
    expect(requests[0]!.body).toEqual({
      model: MODEL,
      max_tokens: 4096,
      system: 'You are terse.',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: false,
    });
    // @anthropic-ai/sdk 1.x sends the API key as `Authorization: Bearer`, not `x-api-key`.
    expect(requests[0]!.headers.get('authorization')).toBe(`Bearer ${KEY}`);
  });

  it('reports max_tokens as "length" and passes maxOutputTokens through', async () => {
    const requests = intercept(ORIGIN, PATH, { status: 200, body: message('Cut', 'max_tokens') });
    const result = await provider().generate({ model: MODEL, prompt: 'Hi', maxOutputTokens: 5 });
    expect(result.finishReason).toBe('length');
    expect(requests[0]!.body.max_tokens).toBe(5);
    expect(requests[0]!.body).not.toHaveProperty('system');
  });

  it('streams text deltas, then a done chunk with usage from message_start and message_delta', async () => {
    const body = sse([
      start,
      [
        'content_block_start',
        { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      ],
      ['ping', { type: 'ping' }],
      delta('Hel'),
      delta('lo'),
      ['content_block_stop', { type: 'content_block_stop', index: 0 }],
      [
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: 'end_turn', stop_sequence: null },
          usage: { output_tokens: 6 },
        },
      ],
      ['message_stop', { type: 'message_stop' }],
    ]);
    const requests = intercept(ORIGIN, PATH, { status: 200, body });
    const chunks = await collect(provider().stream({ model: MODEL, system: 'Be brief.', prompt: 'Hi' }));
    expect(chunks).toEqual([
      { type: 'text', text: 'Hel' },
      { type: 'text', text: 'lo' },
      {
        type: 'done',
        result: {
          text: 'Hello',
          usage: { inputTokens: 11, outputTokens: 6 },
          finishReason: 'stop',
          provider: 'anthropic',
          model: MODEL,
        },
      },
    ]);
    expect(requests[0]!.body).toMatchObject({ stream: true, system: 'Be brief.' });
  });

  it('maps an `event: error` frame in the middle of a stream (overloaded_error, no HTTP status)', async () => {
    const body = sse([start, delta('Hel'), ['error', anthropicError('overloaded_error', 'Overloaded')]]);
    intercept(ORIGIN, PATH, { status: 200, body });
    const error = await providerErrorFrom(collect(provider().stream({ model: MODEL, prompt: 'Hi' })));
    expect(error).toMatchObject({
      kind: 'overloaded',
      code: 'overloaded_error',
      status: undefined,
      message: 'Overloaded',
    });
  });

  it('raises content_filter when Claude refuses (stop_reason refusal)', async () => {
    intercept(ORIGIN, PATH, { status: 200, body: message('', 'refusal') });
    const error = await providerErrorFrom(provider().generate({ model: MODEL, prompt: 'Hi' }));
    expect(error).toMatchObject({ kind: 'content_filter', code: 'refusal' });
  });

  it('raises content_filter when a stream ends with stop_reason refusal', async () => {
    const body = sse([
      start,
      [
        'message_delta',
        {
          type: 'message_delta',
          delta: { stop_reason: 'refusal', stop_sequence: null },
          usage: { output_tokens: 1 },
        },
      ],
      ['message_stop', { type: 'message_stop' }],
    ]);
    intercept(ORIGIN, PATH, { status: 200, body });
    const error = await providerErrorFrom(collect(provider().stream({ model: MODEL, prompt: 'Hi' })));
    expect(error.kind).toBe('content_filter');
  });

  // biome-ignore format: one row per case reads as a table
  it.each<[string, ErrorKind, number, Record<string, unknown>, Record<string, string>, string]>([
    ['429 rate_limit_error', 'rate_limit', 429, anthropicError('rate_limit_error', 'Number of request tokens has exceeded your per-minute rate limit'), { 'retry-after': '7' }, 'rate_limit_error'],
    ['429 spend cap', 'quota', 429, anthropicError('rate_limit_error', 'You have reached your specified workspace API usage limits.', { error_code: 'enforced_spend_limit_reached' }), {}, 'enforced_spend_limit_reached'],
    ['402 billing_error', 'quota', 402, anthropicError('billing_error', 'Your account has a billing issue.'), {}, 'billing_error'],
    ['400 credit balance too low', 'quota', 400, anthropicError('invalid_request_error', 'Your credit balance is too low to access the Anthropic API. Please go to Plans & Billing to upgrade or purchase credits.'), {}, 'invalid_request_error'],
    ['401 authentication_error', 'auth', 401, anthropicError('authentication_error', 'invalid x-api-key'), {}, 'authentication_error'],
    ['403 permission_error', 'auth', 403, anthropicError('permission_error', 'Your API key does not have permission to use the specified resource.'), {}, 'permission_error'],
    ['529 overloaded_error', 'overloaded', 529, anthropicError('overloaded_error', 'Overloaded'), {}, 'overloaded_error'],
    ['500 api_error', 'server', 500, anthropicError('api_error', 'Internal server error'), {}, 'api_error'],
    ['413 request_too_large', 'context_length', 413, anthropicError('request_too_large', 'Request exceeds the maximum allowed number of bytes.'), {}, 'request_too_large'],
    ['400 prompt is too long', 'context_length', 400, anthropicError('invalid_request_error', 'prompt is too long: 215000 tokens > 200000 maximum'), {}, 'invalid_request_error'],
    ['400 invalid_request_error', 'invalid_request', 400, anthropicError('invalid_request_error', 'messages: roles must alternate'), {}, 'invalid_request_error'],
    ['404 not_found_error', 'invalid_request', 404, anthropicError('not_found_error', 'model: claude-9'), {}, 'not_found_error'],
  ])('maps %s to kind %s after exactly one request', async (_name, kind, status, body, headers, code) => {
    const requests = intercept(ORIGIN, PATH, { status, body, headers });
    const error = await providerErrorFrom(provider().generate({ model: MODEL, prompt: 'Hi' }));
    expect(error).toMatchObject({ kind, code, status, provider: 'anthropic', model: MODEL });
    expect(error.message).toBe((body.error as { message: string }).message);
    expect(error.retryAfterMs).toBe(headers['retry-after'] ? 7000 : undefined);
    expect(requests).toHaveLength(1);
  });

  it('reads retry-after-ms in preference to retry-after', async () => {
    intercept(ORIGIN, PATH, {
      status: 429,
      body: anthropicError('rate_limit_error', 'Rate limited'),
      headers: { 'retry-after-ms': '1500', 'retry-after': '2' },
    });
    const error = await providerErrorFrom(provider().generate({ model: MODEL, prompt: 'Hi' }));
    expect(error.retryAfterMs).toBe(1500);
  });
});
